//! Lists with a line per replica: at most a dozen lines in the terminal (a
//! thousand replicas would bury everything else), and every replica's
//! addresses in the run folder's `replicas.csv`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::run_folder::{REPLICAS_FILE, RunFolder};

/// Most lines of a per-replica list printed in the terminal.
pub const LISTED: usize = 12;

/// Says the first [`LISTED`] `lines` (when `verbose`) and how many more
/// there are.
pub fn listed(verbose: bool, lines: &[String]) {
    if !verbose {
        return;
    }
    for l in lines.iter().take(LISTED) {
        topolab_notice::say(l.clone());
    }
    if lines.len() > LISTED {
        topolab_notice::say(format!(
            "  ... and {} more, every one in {REPLICAS_FILE}",
            lines.len() - LISTED
        ));
    }
}

/// Writes `replicas.csv`: each replica's gRPC address and metrics URL
/// (empty when it did not say).
pub fn write_replicas(
    folder: &RunFolder,
    peers: &BTreeMap<String, Vec<SocketAddr>>,
    metrics: &[(String, String)],
) -> anyhow::Result<()> {
    let urls: BTreeMap<&str, &str> = metrics
        .iter()
        .map(|(r, u)| (r.as_str(), u.as_str()))
        .collect();
    let rows: Vec<(String, String, String)> = peers
        .iter()
        .flat_map(|(service, addrs)| {
            addrs
                .iter()
                .enumerate()
                .map(move |(i, a)| (format!("{service}#{i}"), a.to_string()))
        })
        .map(|(r, a)| {
            let url = urls
                .get(r.as_str())
                .copied()
                .unwrap_or_default()
                .to_string();
            (r, a, url)
        })
        .collect();
    folder.write_replicas(&rows)
}
