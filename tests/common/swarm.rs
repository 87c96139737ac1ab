//! Runs on the real local Docker Swarm for the tests: a topology file run
//! with `run --on swarm` to completion, and what Docker still holds of a
//! stack afterwards.

use std::process::Command;

use serde_json::Value;

use super::Sandbox;

/// Everything Docker still holds that carries the run's stack label.
pub fn leftovers(stack: &str) -> Vec<String> {
    let label = format!("label=com.docker.stack.namespace={stack}");
    let mut left = Vec::new();
    for args in [
        vec!["service", "ls", "-q", "--filter", &label],
        vec!["ps", "-aq", "--filter", &label],
        vec!["network", "ls", "-q", "--filter", &label],
        vec!["config", "ls", "-q", "--filter", &label],
    ] {
        let out = Command::new("docker").args(&args).output().unwrap();
        left.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| format!("{}: {l}", args[0])),
        );
    }
    left
}

/// Runs `file` on the Swarm; returns the summary and the stack's name.
pub fn run_on_swarm(sandbox: &Sandbox, file: &str, extra: &[&str]) -> (Value, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let out = sandbox.out();
    let mut args = vec![
        "run",
        path.to_str().unwrap(),
        "--on",
        "swarm",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let child = sandbox.spawn(&args);
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "run --on swarm failed: {}\nstdout:\n{}\nstderr:\n{stderr}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    // The topologies run here are named as their files are.
    let name = path.file_stem().unwrap().to_str().unwrap();
    (sandbox.summary(), format!("topolab-{name}-{pid}"))
}
