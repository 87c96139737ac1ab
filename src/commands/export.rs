//! `topolab export compose|kubernetes FILE`: writes a folder holding what runs
//! the topology on a Docker Swarm (`compose.yaml` beside the `topology.yaml`
//! its config reads) or on Kubernetes (`kubernetes.yaml`, every object in
//! one file), and prints the command that deploys it. Exit 1 for an invalid
//! topology (for Kubernetes, also one with `kill` or `pause` faults, which
//! its driver cannot carry out), 2 when the folder cannot be written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use topolab_deploy::{compose, kubernetes};
use topolab_model::Limits;

use super::{EXIT_INVALID, EXIT_SANDBOX};
use crate::cli::{ExportArgs, ExportTarget};

/// The Kubernetes manifests' file name in an export folder.
pub const MANIFESTS_FILE: &str = "kubernetes.yaml";

/// Why the Kubernetes manifests cannot carry `kill` and `pause` faults.
const NO_ENGINE: &str = "on Kubernetes the load driver (`drive` without `--stack`) has no engine to signal the replicas";

/// Writes the export and prints its folder last.
pub fn export(args: &ExportArgs) -> ExitCode {
    // The Job's driver would refuse the faults when it starts in the
    // cluster; refused here, before anything is written or deployed.
    let limits = match args.target {
        ExportTarget::Compose => Limits::FORMAT,
        ExportTarget::Kubernetes => Limits::FORMAT.without_signals(NO_ENGINE),
    };
    let loaded = match topolab_model::load_with(&args.file, &args.sets, limits) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{report}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let t = &loaded.topology;
    let target = match args.target {
        ExportTarget::Compose => "compose",
        ExportTarget::Kubernetes => "kubernetes",
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("export-{}-{target}", t.name)));
    let files: Vec<(&str, String)> = match args.target {
        ExportTarget::Compose => vec![
            (
                compose::COMPOSE_FILE,
                topolab_deploy::yaml(&compose::compose(t, &args.image)),
            ),
            (compose::TOPOLOGY_FILE, loaded.yaml.clone()),
        ],
        ExportTarget::Kubernetes => vec![(
            MANIFESTS_FILE,
            kubernetes::to_yaml(&kubernetes::manifests(t, &loaded.yaml, &args.image)),
        )],
    };
    if let Err(e) = write_all(&dir, &files) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_SANDBOX);
    }
    if t.network.in_use() {
        eprintln!("{}", network_note(t));
    }
    match args.target {
        ExportTarget::Compose => eprintln!(
            "deploy on a Swarm: (cd {} && docker stack deploy -c {} {})",
            dir.display(),
            compose::COMPOSE_FILE,
            t.name
        ),
        ExportTarget::Kubernetes => {
            eprintln!(
                "deploy: kubectl apply -f {}  (namespace {})",
                dir.join(MANIFESTS_FILE).display(),
                kubernetes::namespace(t)
            );
        }
    }
    println!("{}", dir.display());
    ExitCode::SUCCESS
}

fn write_all(dir: &Path, files: &[(&str, String)]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// What an export does with the topology's network: each replica reads the
/// topology file and shapes its own connections to its callees by the
/// standing links, in user space; nothing sends link faults at their times.
fn network_note(t: &topolab_model::Topology) -> String {
    let mut note = String::from(
        "note: the `network` section's standing links are carried: each replica reads them from the topology file and shapes its own connections to its callees, in user space (no netem, no NET_ADMIN: see docs/network.md). Not carried: the wire's per-packet shaping (a loss is the stall TCP would take to repair it, not a dropped packet), traffic from clients outside the topology (only calls between replicas are shaped)",
    );
    if !t.network.faults.is_empty() {
        note.push_str(&format!(
            ", and the {} link fault(s), which nothing applies at their times here (`topolab run --on swarm` does; by hand: `grpcurl -plaintext -d '{{\"active\":[0]}}' REPLICA:50051 topolab.v1.Control/SetLinks` on every replica)",
            t.network.faults.len()
        ));
    }
    note.push('.');
    note
}
