//! Memory at any run length: one open-loop flood of 4,000/s against api (4
//! workers, queue 200) → db (2 workers, queue 100) for 60 s, the launcher's
//! and the replicas' resident memory sampled after 10 s and after 60 s; the
//! ratio should be ~1 (goal: within 15%), untraced and fully traced.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::topolab::{binary, children_rss_kib, rss_kib};

const FLOOD: &str = include_str!("../../tests/topologies/flood.yaml");

/// Runs the flood, untraced and traced, printing memory at 10 s and 60 s.
pub fn bench() -> anyhow::Result<()> {
    println!(
        "\n== memory over a 4,000/s flood (api 4 workers -> db 2 workers): resident MiB at 10 s and 60 s of load"
    );
    println!(
        "{:<10}  {:>10}  {:>10}  {:>7}  {:>14}  {:>14}  {:>7}",
        "trace", "launcher10", "launcher60", "ratio", "replicas10", "replicas60", "ratio"
    );
    for trace in ["0%", "100%"] {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("flood.yaml");
        std::fs::write(&file, FLOOD)?;
        let mut child = Command::new(binary()?)
            .arg("run")
            .arg(&file)
            .arg("--set")
            .arg(format!("settings.trace={trace}"))
            .arg("--out")
            .arg(dir.path().join("run"))
            .arg("--quiet")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id();
        // Load starts once the replicas are healthy: wait for them. The load
        // lasts 75 s so that the 60 s sample is taken well before its end
        // (the run folder's writing would otherwise be measured).
        let started = Instant::now();
        while children_rss_kib(pid).len() < 2 && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let begin = Instant::now();
        let at = |s: u64| {
            let when = begin + Duration::from_secs(s);
            std::thread::sleep(when.saturating_duration_since(Instant::now()));
            (rss_kib(pid), children_rss_kib(pid).iter().sum::<u64>())
        };
        let (l10, r10) = at(10);
        let (l60, r60) = at(60);
        child.wait()?;
        let mib = |k: u64| k as f64 / 1024.0;
        println!(
            "{:<10}  {:>10.1}  {:>10.1}  {:>7.3}  {:>14.1}  {:>14.1}  {:>7.3}",
            trace,
            mib(l10),
            mib(l60),
            l60 as f64 / l10.max(1) as f64,
            mib(r10),
            mib(r60),
            r60 as f64 / r10.max(1) as f64
        );
    }
    println!("(goal: ratios within 1 ± 0.15)");
    Ok(())
}
