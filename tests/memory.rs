//! Memory does not grow with run length: during an open-loop flood the
//! launcher's and every replica's resident memory, sampled while the load
//! runs, is no larger late in the run than early on, beyond a tolerance for
//! the allocator and a busy machine. The test binary is a debug build, so
//! the rate is one it can sustain on a shared two-core box; `make bench
//! BENCH=memory` measures the release build at 4,000/s for 60 s.

mod common;

use std::time::{Duration, Instant};

use common::Sandbox;

/// The flood shared with `make bench BENCH=memory`, at a rate a debug build
/// sustains; requests in flight are bounded by rate x timeout, reached
/// within a second.
const FLOOD: &str = include_str!("topologies/flood.yaml");
const SETS: [&str; 4] = [
    "load.flood.rate=800/s",
    "load.flood.duration=9s",
    "load.flood.timeout=500ms",
    "settings.trace=0%",
];

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let ppid = status
                .lines()
                .find(|l| l.starts_with("PPid:"))?
                .split_whitespace()
                .nth(1)?;
            (ppid == pid.to_string()).then_some(child)
        })
        .collect()
}

/// The highest of `samples` taken in `[from, to)` seconds of load.
fn peak(samples: &[(f64, u64)], from: f64, to: f64) -> u64 {
    samples
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, k)| *k)
        .max()
        .unwrap_or(0)
}

#[test]
fn memory_does_not_grow_with_run_length() {
    let sb = Sandbox::new();
    let file = sb.file("flood.yaml", FLOOD);
    let out = sb.out();
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    for set in SETS {
        args.extend(["--set", set]);
    }
    let mut child = sb
        .command(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let waited = Instant::now();
    let mut replicas = Vec::new();
    while replicas.len() < 2 && waited.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
        replicas = children(pid);
    }
    assert_eq!(replicas.len(), 2, "two replicas started");
    let begin = Instant::now();
    let mut launcher = Vec::new();
    let mut each: Vec<Vec<(f64, u64)>> = vec![Vec::new(); replicas.len()];
    while begin.elapsed() < Duration::from_secs(9) {
        let t = begin.elapsed().as_secs_f64();
        launcher.push((t, rss_kib(pid)));
        for (i, r) in replicas.iter().enumerate() {
            each[i].push((t, rss_kib(*r)));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(child.wait().unwrap().success());
    let summary = sb.summary();
    let sent = summary["load"]["flood"]["sent"].as_u64().unwrap();
    assert!(sent > 5_000, "the flood sent only {sent}");
    // Early: seconds 2-4 (start-up allocations done, in-flight requests at
    // their bound); late: seconds 6-8. Allowed: 20% and 6 MiB more (allocator
    // arenas, a busy machine).
    let check = |who: &str, s: &[(f64, u64)]| {
        let (early, late) = (peak(s, 2.0, 4.0), peak(s, 6.0, 8.0));
        assert!(early > 0 && late > 0, "{who}: no samples");
        eprintln!("{who}: peak {early} KiB in seconds 2-4, {late} KiB in 6-8");
        assert!(
            late <= early + early / 5 + 6 * 1024,
            "{who} grew from {early} KiB to {late} KiB: {s:?}"
        );
    };
    check("launcher", &launcher);
    for (i, s) in each.iter().enumerate() {
        check(&format!("replica {i}"), s);
    }
}
