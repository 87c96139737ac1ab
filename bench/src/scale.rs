//! `make bench` at scale (issue 10): a thousand replicas on this box.
//!
//! 1. Start-up: 1,000 replicas until all are healthy, against the goal of
//!    15 s, and their memory: proportional (PSS: the executable's pages
//!    shared out over every process) and resident (RSS), against 8 MiB each.
//! 2. Idle: the CPU the 1,000 idle replicas and their launcher use over
//!    10 s (every thread's /proc schedstat), against 0.1% of a core per replica.
//! 3. `work` under many processes: 250 replicas in three tiers serving
//!    500/s, each tier's `work: 1ms` as measured, against three replicas
//!    serving the same load (the reference, same run), and whether the run
//!    called itself machine-bound.

use std::time::{Duration, Instant};

use crate::topolab;

/// Start-up goal for 1,000 replicas.
const HEALTHY_GOAL_MS: f64 = 15_000.0;
/// Memory goal per replica.
const MEMORY_GOAL_KIB: f64 = 8.0 * 1024.0;
/// Idle CPU goal per replica, percent of one core.
const IDLE_GOAL_PCT: f64 = 0.1;

pub fn bench() -> anyhow::Result<()> {
    fleet_of_a_thousand()?;
    work_under_many()?;
    Ok(())
}

fn fleet_of_a_thousand() -> anyhow::Result<()> {
    let n = 1000;
    let yaml = format!(
        "name: thousand\nservices:\n  lb:\n    kind: balancer\n    backend: fleet\n  fleet:\n    replicas: {}\n    endpoints:\n      Get:\n        steps:\n          - work: 1ms\n",
        n - 1
    );
    let up = topolab::Up::start(&yaml, n)?;
    println!(
        "\n== scale: {n} replica processes (a balancer and {} behind it)",
        n - 1
    );
    println!(
        "{:<34}  {:>12}  {:>12}  {:>8}",
        "figure", "measured", "goal", "ratio"
    );
    println!(
        "{:<34}  {:>9.0} ms  {:>9.0} ms  {:>8.3}",
        "all healthy after",
        up.healthy_ms,
        HEALTHY_GOAL_MS,
        up.healthy_ms / HEALTHY_GOAL_MS
    );
    // Let start-up's stragglers settle before measuring the idle fleet.
    std::thread::sleep(Duration::from_secs(2));
    let pids = topolab::children(up.pid());
    let pss: Vec<u64> = pids.iter().filter_map(|p| smaps_kib(*p, "Pss:")).collect();
    let rss: Vec<u64> = pids.iter().filter_map(|p| smaps_kib(*p, "Rss:")).collect();
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
    println!(
        "{:<34}  {:>8.2} MiB  {:>8.2} MiB  {:>8.3}",
        "memory per replica (PSS mean)",
        mean(&pss) / 1024.0,
        MEMORY_GOAL_KIB / 1024.0,
        mean(&pss) / MEMORY_GOAL_KIB
    );
    println!(
        "{:<34}  {:>8.2} MiB  {:>8.2} MiB  {:>8.3}",
        "   (RSS mean, shared pages whole)",
        mean(&rss) / 1024.0,
        MEMORY_GOAL_KIB / 1024.0,
        mean(&rss) / MEMORY_GOAL_KIB
    );
    let window = Duration::from_secs(10);
    let before: Vec<Option<u64>> = pids.iter().map(|p| topolab::cpu_ns(*p)).collect();
    let launcher_before = topolab::cpu_ns(up.pid());
    let t = Instant::now();
    std::thread::sleep(window);
    let secs = t.elapsed().as_secs_f64();
    let after: Vec<Option<u64>> = pids.iter().map(|p| topolab::cpu_ns(*p)).collect();
    let launcher_after = topolab::cpu_ns(up.pid());
    let used: u64 = before
        .iter()
        .zip(&after)
        .filter_map(|(b, a)| Some(a.as_ref()?.saturating_sub(*b.as_ref()?)))
        .sum();
    let per = used as f64 / 1e9 / secs * 100.0 / pids.len().max(1) as f64;
    println!(
        "{:<34}  {:>9.4} %c  {:>9.4} %c  {:>8.3}",
        "idle CPU per replica (of a core)",
        per,
        IDLE_GOAL_PCT,
        per / IDLE_GOAL_PCT
    );
    if let (Some(b), Some(a)) = (launcher_before, launcher_after) {
        println!(
            "{:<34}  {:>9.2} %c",
            "   launcher idle CPU (of a core)",
            a.saturating_sub(b) as f64 / 1e9 / secs * 100.0
        );
    }
    println!(
        "   ({} replicas measured over {secs:.1} s; %c = percent of one core)",
        pids.len()
    );
    Ok(())
}

/// Three tiers of `work: 1ms`, `front -> mid -> back`, with `r` replicas in
/// all, serving 500/s for 8 s; returns each tier's work mean (ms) and the
/// summary's `work_timing`.
fn tiers(r: [u32; 3]) -> anyhow::Result<(Vec<f64>, serde_json::Value)> {
    let yaml = format!(
        "name: tiers\nsettings: {{ seed: 7 }}\nservices:\n  front:\n    replicas: {}\n    workers: 8\n    endpoints:\n      Get: {{ steps: [ {{work: 1ms}}, {{call: mid/Get}} ] }}\n  mid:\n    replicas: {}\n    workers: 8\n    endpoints:\n      Get: {{ steps: [ {{work: 1ms}}, {{call: back/Get}} ] }}\n  back:\n    replicas: {}\n    workers: 8\n    endpoints:\n      Get: {{ steps: [ {{work: 1ms}} ] }}\nload:\n  users: {{ target: front/Get, rate: 500/s, duration: 8s, timeout: 2s }}\n",
        r[0], r[1], r[2]
    );
    let s = topolab::run_once(&yaml)?;
    let means = ["front", "mid", "back"]
        .iter()
        .map(|t| {
            s["services"][t]["endpoints"]["Get"]["work_ms"]["mean"]
                .as_f64()
                .unwrap_or(0.0)
        })
        .collect();
    Ok((means, s["work_timing"].clone()))
}

fn work_under_many() -> anyhow::Result<()> {
    let (reference, ref_timing) = tiers([1, 1, 1])?;
    let (many, timing) = tiers([50, 100, 100])?;
    println!(
        "\n== scale: `work: 1ms` through three tiers at 500/s, 250 replicas / 3 replicas (same load, same run)"
    );
    println!(
        "{:<8}  {:>14}  {:>14}  {:>8}  {:>14}",
        "tier", "3 replicas", "250 replicas", "ratio", "250 / asked"
    );
    for (i, tier) in ["front", "mid", "back"].iter().enumerate() {
        println!(
            "{:<8}  {:>11.3} ms  {:>11.3} ms  {:>8.3}  {:>14.3}",
            tier,
            reference[i],
            many[i],
            many[i] / reference[i].max(1e-9),
            many[i] / 1.0
        );
    }
    let late = |t: &serde_json::Value| t["work_late_pct"].as_f64().unwrap_or(0.0);
    println!(
        "work ran late by (summary.json work_timing): 3 replicas {:.1}%, 250 replicas {:.1}% (goal <= 5%); machine-bound reported: {}",
        late(&ref_timing),
        late(&timing),
        timing["machine_bound"]
    );
    Ok(())
}

/// One `key` of /proc/PID/smaps_rollup, KiB.
fn smaps_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
