//! `make bench BENCH=swarm`: the same topology as local processes and as
//! containers of a Docker Swarm stack (`run --on swarm`), as ratios: one hop
//! at saturation (throughput and p50 of a closed loop), start-up (until every
//! replica is healthy; on Swarm from `docker stack deploy`), and resident
//! memory per replica, sampled while the load runs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

const YAML: &str = "name: hop\nservices:\n  echo:\n    replicas: 2\n    workers: 8\n    endpoints:\n      Get:\n        steps:\n          - work: 0ms\nload:\n  c:\n    target: echo/Get\n    clients: 32\n    duration: 6s\n    timeout: 2s\n";

/// One run's figures: ok/s, p50 ms, start-up ms, MiB per replica.
struct Figures {
    ok_per_s: f64,
    p50_ms: f64,
    startup_ms: f64,
    mib_per_replica: f64,
}

/// Runs `topolab run` with `extra` flags, sampling memory once the load starts.
fn measure(extra: &[&str]) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("hop.yaml");
    std::fs::write(&file, YAML)?;
    let mut child = Command::new(crate::topolab::binary()?)
        .arg("run")
        .arg(&file)
        .args(["--json", "--out"])
        .arg(dir.path().join("run"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let swarm = !extra.is_empty();
    let parent = child.id();
    let mut startup_ms = 0.0;
    let mut deploy_ms = 0.0;
    let mut mib = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        if let Some(rest) = line.split("every service runs its replicas after ").nth(1) {
            deploy_ms = rest.trim_end_matches(" s").parse::<f64>().unwrap_or(0.0) * 1e3;
        } else if let Some(rest) = line.split("healthy after ").nth(1) {
            startup_ms = deploy_ms + rest.trim_end_matches(" ms").parse::<f64>().unwrap_or(0.0);
        } else if line.starts_with("sending load") && mib.is_empty() {
            std::thread::sleep(std::time::Duration::from_secs(2));
            mib = if swarm {
                container_mib()?
            } else {
                process_mib(parent)
            };
        }
    }
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout)?;
    anyhow::ensure!(child.wait()?.success(), "topolab run {extra:?} failed");
    let s: Value = serde_json::from_str(&stdout)?;
    let c = &s["load"]["c"];
    Ok(Figures {
        ok_per_s: c["throughput"].as_f64().unwrap_or(0.0),
        p50_ms: c["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
        startup_ms,
        mib_per_replica: mib.iter().sum::<f64>() / mib.len().max(1) as f64,
    })
}

/// Resident memory of the replica processes (the launcher's children), MiB.
fn process_mib(parent: u32) -> Vec<f64> {
    let parent = parent.to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split_whitespace().nth(1))
        };
        if field("PPid:") == Some(parent.as_str())
            && let Some(kib) = field("VmRSS:").and_then(|v| v.parse::<f64>().ok())
        {
            out.push(kib / 1024.0);
        }
    }
    out
}

/// Resident memory of the stack's replica containers' processes (PID 1 of
/// each, seen from this host's /proc: the same measure as locally), MiB.
fn container_mib() -> anyhow::Result<Vec<f64>> {
    let out = Command::new("docker")
        .args([
            "ps",
            "--filter",
            "name=topolab-hop-",
            "--format",
            "{{.ID}} {{.Names}}",
        ])
        .output()?;
    let mut mib = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((id, name)) = line.split_once(' ') else {
            continue;
        };
        if name.ends_with("-driver") {
            continue;
        }
        let pid = Command::new("docker")
            .args(["inspect", "--format", "{{.State.Pid}}", id])
            .output()?;
        let pid = String::from_utf8_lossy(&pid.stdout).trim().to_string();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(kib) = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
        {
            mib.push(kib / 1024.0);
        }
    }
    Ok(mib)
}

/// Prints local and Swarm figures side by side, with Swarm / local ratios.
pub fn bench() -> anyhow::Result<()> {
    println!(
        "\n== local processes vs Docker Swarm containers (2 replicas, work 0ms, 32 closed-loop clients, 6 s)"
    );
    let local = measure(&[])?;
    let swarm = measure(&["--on", "swarm"])?;
    println!(
        "{:>22}  {:>10}  {:>10}  {:>12}",
        "", "local", "swarm", "swarm/local"
    );
    let rows = [
        ("one hop, ok/s", local.ok_per_s, swarm.ok_per_s),
        ("one hop, p50 ms", local.p50_ms, swarm.p50_ms),
        ("start-up ms", local.startup_ms, swarm.startup_ms),
        (
            "MiB per replica",
            local.mib_per_replica,
            swarm.mib_per_replica,
        ),
    ];
    for (name, l, s) in rows {
        println!(
            "{name:>22}  {l:>10.2}  {s:>10.2}  {:>12.3}",
            s / l.max(1e-9)
        );
    }
    Ok(())
}
