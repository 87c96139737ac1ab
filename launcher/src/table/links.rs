//! The end-of-run table of the links between services on a modelled
//! network: per `caller -> callee`, the calls, their time on the wire and
//! how many failed, by code. Nothing on loopback.

use std::fmt::Write;

use super::{align, row};
use crate::summary::Summary;
use topolab_results::units::ms;

/// The links table, or nothing when the run had no modelled network.
pub fn render(s: &Summary) -> String {
    if s.links.is_empty() {
        return String::new();
    }
    let mut rows = vec![row(&[
        "link",
        "calls",
        "wire p50 ms",
        "p99",
        "max",
        "failed",
    ])];
    for (name, l) in &s.links {
        let failed: Vec<String> = l.failed.iter().map(|(c, n)| format!("{n} {c}")).collect();
        rows.push(vec![
            name.clone(),
            l.calls.to_string(),
            ms(l.wire_ms.p50),
            ms(l.wire_ms.p99),
            ms(l.wire_ms.max),
            if failed.is_empty() {
                "0".into()
            } else {
                failed.join(", ")
            },
        ]);
    }
    let mut out = String::from("\n");
    out.push_str(&align(&rows));
    let _ = writeln!(
        out,
        "(wire: a caller's CLIENT span less its callee's SERVER span, both ways, gRPC layers included)"
    );
    out
}
