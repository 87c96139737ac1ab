//! `make bench`: measures what topolab promises and prints each figure as a
//! ratio against a reference measured in the same run. It asserts nothing;
//! numbers that depend on the machine belong here, not in tests.
//!
//! 1. `work` accuracy: achieved mean against requested, for 1 ms, 10 ms, 100 ms.
//! 2. One hop: a `work: 0ms` replica against a bare tonic echo server, driven
//!    by h2load (one call at a time, and 16 connections × 32 streams).
//!    `hops`: the cost per hop at 50/s and 200/s through a chain of four
//!    topolab services against a chain of four forwarding echo servers.
//! 3. Start-up: time until N replicas are all healthy, and each one's memory.
//! 4. The load generator (`generator`): achieved/offered open-loop rates,
//!    closed-loop throughput and low-load latency against h2load.
//! 5. Tracing: one-hop throughput at `trace: 100%` against `0%`, and the
//!    collector's ingest rate in spans per second.
//! 6. Sampling: throughput with `sample_every: 10ms` against `1s`.
//! 7. Holding clients (`updates`): 1,000 and 10,000 open streams and held
//!    long polls on one replica, its memory per held client, and the
//!    request rate polling would need for the same freshness.
//! 8. The simulator (`sim`): events per second, and the wall time, CPU
//!    time and peak memory to predict 60 s of generated 1,000- and
//!    10,000-service topologies, alone and through `topolab predict`.
//! 9. Scale (`scale`): 1,000 replicas' start-up, memory and idle CPU, and
//!    `work` accuracy with 250 replicas serving 500/s (see `scale.rs`).
//! 10. Import (`import`): a million spans through `topolab import`, against
//!     only reading and parsing the same file, and its peak memory.
//! 11. Queueing (`queueing`): M/M/1 and M/D/1 at ρ = 0.8, the mean queue
//!     wait measured against the textbook, Pollaczek–Khinchine with the
//!     machine's measured service times, the same sample path, and
//!     `topolab predict`.
//! 12. The lab (`lab`): the launcher's CPU at 1,000 requests/s with no
//!     page, one and ten pages watching, against `run`, and the latency.
//! 13. Network (`network`, only when asked: it needs root): start-up of 100
//!     replicas in namespaces against loopback, and one hop through a 0 ms
//!     link against loopback.
//! 14. Swarm (`swarm`, only when asked: it needs a Swarm manager): one hop at
//!     saturation, start-up and memory per replica, containers against processes.

mod echo;
mod generator;
mod h2load;
mod hops;
mod import;
mod lab;
mod memory;
mod network;
mod queueing;
mod sampling;
mod scale;
mod sim;
mod swarm;
mod topolab;
mod tracing_cost;
mod updates;

use std::time::Duration;

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("echo-server") {
        return echo::serve_forever(std::env::args().nth(2));
    }
    if std::env::args().nth(1).as_deref() == Some(sim::CHILD) {
        return sim::case(&std::env::args().nth(2).unwrap_or_default());
    }
    let only = std::env::args().nth(1);
    let want = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if want("work") {
        work_accuracy()?;
    }
    if want("hop") {
        one_hop()?;
    }
    if want("hops") {
        hops::bench()?;
    }
    if want("startup") {
        startup()?;
    }
    if want("generator") {
        generator::bench()?;
    }
    if only.as_deref() == Some("lowload") {
        generator::low_load()?;
    }
    if want("trace") {
        tracing_cost::one_hop_cost()?;
        tracing_cost::collector_ingest()?;
    }
    if want("memory") {
        memory::bench()?;
    }
    if want("sampling") {
        sampling::run(3)?;
    }
    if want("updates") {
        updates::bench()?;
    }
    if want("sim") {
        sim::bench()?;
    }
    if want("scale") {
        scale::bench()?;
    }
    if want("queueing") {
        queueing::bench()?;
    }
    if want("import") {
        import::bench()?;
    }
    if want("lab") {
        lab::bench()?;
    }
    if only.as_deref() == Some("swarm") {
        swarm::bench()?;
    }
    if only.as_deref() == Some("network") {
        network::bench()?;
    }
    Ok(())
}

/// Requested against achieved `work` mean, from the replicas' own histograms.
fn work_accuracy() -> anyhow::Result<()> {
    println!(
        "\n== work accuracy: achieved mean / requested mean (constant work, 4 workers, 4 closed-loop clients)"
    );
    println!(
        "{:>10}  {:>12}  {:>8}  {:>8}",
        "requested", "achieved", "ratio", "samples"
    );
    for (work, secs) in [("1ms", 4), ("10ms", 4), ("100ms", 6)] {
        let yaml = format!(
            "name: work-bench\nservices:\n  svc:\n    workers: 4\n    endpoints:\n      Work:\n        steps:\n          - work: {work}\nload:\n  c:\n    target: svc/Work\n    clients: 4\n    duration: {secs}s\n"
        );
        let s = topolab::run_once(&yaml)?;
        let ep = &s["services"]["svc"]["endpoints"]["Work"];
        let achieved = ep["work_ms"]["mean"].as_f64().unwrap_or(0.0);
        let requested: f64 = work.trim_end_matches("ms").parse()?;
        println!(
            "{:>10}  {:>9.3} ms  {:>8.4}  {:>8}",
            work,
            achieved,
            achieved / requested,
            ep["ok"]
        );
    }
    Ok(())
}

/// One hop through topolab against a bare tonic server, both under h2load.
fn one_hop() -> anyhow::Result<()> {
    let Some(h2load) = h2load::find() else {
        println!("\n== one hop: skipped, h2load not found (apt-get install -y nghttp2-client)");
        return Ok(());
    };
    let bare = echo::spawn()?;
    let replica = topolab::Up::start(
        "name: hop\nservices:\n  echo:\n    workers: 1000\n    queue: unbounded\n    endpoints:\n      Echo:\n        steps:\n          - work: 0ms\n",
        1,
    )?;
    let addr = replica.addrs[0].clone();
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "\n== one hop (h2load, unary gRPC over loopback): topolab work: 0ms replica / bare tonic echo server"
    );
    println!(
        "{:<22}  {:>14}  {:>14}  {:>8}",
        "load", "bare", "topolab", "ratio"
    );
    for (label, c, m, n) in [
        ("-c1 -m1 (latency)", 1, 1, 20_000),
        ("-c16 -m32 (throughput)", 16, 32, 200_000),
    ] {
        let b = h2load::run(&h2load, &bare.addr, c, m, n)?;
        let t = h2load::run(&h2load, &addr, c, m, n)?;
        println!(
            "{:<22}  {:>10.0} r/s  {:>10.0} r/s  {:>8.3}",
            label,
            b.rps,
            t.rps,
            t.rps / b.rps
        );
        println!(
            "{:<22}  {:>11.1} µs  {:>11.1} µs  {:>8.3}",
            "   mean latency",
            b.mean_us,
            t.mean_us,
            t.mean_us / b.mean_us
        );
        if b.failed + t.failed > 0 {
            println!(
                "   (non-2xx or failed: bare {}, topolab {})",
                b.failed, t.failed
            );
        }
    }
    drop(replica);
    drop(bare);
    Ok(())
}

/// Time until N replicas are all healthy, and their resident memory.
fn startup() -> anyhow::Result<()> {
    println!("\n== start-up: N replica processes until all healthy, and memory per replica");
    println!(
        "{:>5}  {:>14}  {:>14}  {:>16}  {:>16}",
        "N", "all healthy", "per replica", "RSS mean/replica", "RSS max/replica"
    );
    for n in [10, 50, 100] {
        let yaml = format!(
            "name: startup\nservices:\n  svc:\n    replicas: {n}\n    endpoints:\n      Get:\n        steps:\n          - work: 1ms\n"
        );
        let up = topolab::Up::start(&yaml, n)?;
        let rss = up.replica_rss_kib();
        let mean = rss.iter().sum::<u64>() as f64 / rss.len().max(1) as f64;
        let max = rss.iter().copied().max().unwrap_or(0);
        println!(
            "{:>5}  {:>11.0} ms  {:>11.1} ms  {:>12.1} MiB  {:>12.1} MiB",
            n,
            up.healthy_ms,
            up.healthy_ms / n as f64,
            mean / 1024.0,
            max as f64 / 1024.0
        );
    }
    Ok(())
}
