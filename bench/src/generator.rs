//! The load generator itself, driven in this process (through the launcher
//! library) at the bare tonic echo server, so nothing of topolab's replicas
//! is measured: how much of the offered open-loop rate it achieves and how
//! late requests leave, its closed-loop throughput against h2load at the
//! same concurrency, and its latency at low load against h2load's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use topolab_load::{self as load, Recorder, StopSignals};
use topolab_results::units::ms_from_us as ms;

use crate::{echo, h2load};

/// Runs one generator (`body`: its YAML keys) at `addr` and returns its recorder.
pub fn drive(addr: SocketAddr, body: &str) -> anyhow::Result<Recorder> {
    let yaml = format!(
        "name: gen-bench\nservices:\n  echo:\n    endpoints:\n      Echo: {{}}\nload:\n  g:\n    target: echo/Echo\n{body}settings:\n  seed: 1\n"
    );
    let topology = topolab_model::load_str("gen-bench.yaml", &yaml, &[])
        .map_err(|r| anyhow::anyhow!("{r}"))?
        .topology;
    let peers = BTreeMap::from([("echo".to_string(), vec![addr])]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The generators write load_timeseries.csv as they go: into a folder
    // the bench throws away.
    let folder = tempfile::tempdir()?;
    let mut done = rt.block_on(async {
        let live = load::live_recorders(&topology);
        let (_stop_tx, stop) = watch::channel(false);
        let (_abort_tx, abort) = watch::channel(false);
        let signals = StopSignals { stop, abort };
        let begin = Instant::now() + Duration::from_millis(200);
        load::run_all(load::LoadRun {
            topology: &topology,
            peers: &peers,
            seed: 1,
            begin,
            signals,
            live: &live,
            tracer: None,
            folder: folder.path(),
            knobs: None,
            book: None,
        })
        .await
    })?;
    done.remove("g")
        .ok_or_else(|| anyhow::anyhow!("no recorder for the generator"))
}

/// OK responses per second between the first due time and the last answer.
fn achieved(r: &Recorder) -> f64 {
    match (r.first_due, r.last_done) {
        (Some(a), Some(b)) => r.ok as f64 / b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    }
}

fn quantile_ms(sorted_us: &[f64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    sorted_us[i] / 1e3
}

/// All three comparisons.
pub fn bench() -> anyhow::Result<()> {
    let bare = echo::spawn()?;
    let addr: SocketAddr = bare.addr.parse()?;
    std::thread::sleep(Duration::from_millis(200));
    open_rates(addr)?;
    match h2load::find() {
        Some(h2) => against_h2load(addr, &h2, &bare.addr)?,
        None => println!("\n(h2load not found: apt-get install -y nghttp2-client)"),
    }
    drop(bare);
    Ok(())
}

/// Rounds of the low-load comparison: this VM's wake-up latency drifts
/// from one minute to the next, so one round's ratio says little.
const LOW_LOAD_ROUNDS: usize = 3;

/// Only the low-load comparison (`make bench BENCH=lowload`): the open loop
/// at 200/s against a closed loop of one client, in rounds (each measures
/// its own reference), and the median of the rounds' ratios.
pub fn low_load() -> anyhow::Result<()> {
    let bare = echo::spawn()?;
    let addr: SocketAddr = bare.addr.parse()?;
    std::thread::sleep(Duration::from_millis(200));
    let mut rounds = Vec::new();
    for _ in 0..LOW_LOAD_ROUNDS {
        let one = drive(addr, "    clients: 1\n    duration: 3s\n")?;
        rounds.push(open_against_closed(addr, &one)?);
    }
    let median = |pick: fn(&LowLoad) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(pick).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "\nmedian of {LOW_LOAD_ROUNDS} rounds (goal: p50 ≤ 1.5×, p99 ≤ 1 ms): p50 ratio {:.3} constant, {:.3} Poisson; p99 {:.3} ms constant, {:.3} ms Poisson",
        median(|r| r.constant.0),
        median(|r| r.poisson.0),
        median(|r| r.constant.1),
        median(|r| r.poisson.1),
    );
    Ok(())
}

/// One round of the low-load comparison: for constant and Poisson
/// arrivals, the open loop's p50 over the closed loop's, and its p99 (ms).
struct LowLoad {
    constant: (f64, f64),
    poisson: (f64, f64),
}

/// Achieved/offered at 1k/s, 10k/s and higher, until it no longer keeps up.
fn open_rates(addr: SocketAddr) -> anyhow::Result<()> {
    println!(
        "\n== open-loop generator against a bare tonic echo server (constant arrivals, 3 s each)"
    );
    println!(
        "{:>9}  {:>10}  {:>8}  {:>10}  {:>9}  {:>9}  {:>8}  {:>8}",
        "offered/s", "achieved/s", "ratio", "late>1ms", "late p99", "late max", "p50 ms", "p99 ms"
    );
    let mut best = 0.0;
    for rate in [1_000u32, 2_000, 5_000, 10_000, 20_000, 40_000] {
        let r = drive(
            addr,
            &format!("    rate: {rate}/s\n    arrivals: constant\n    duration: 3s\n"),
        )?;
        let got = achieved(&r);
        let late_share =
            1.0 - r.late_us.count_between(0, 1000) as f64 / r.late_us.len().max(1) as f64;
        println!(
            "{:>9}  {:>10.0}  {:>8.4}  {:>9.2}%  {:>6.2} ms  {:>6.1} ms  {:>8.3}  {:>8.3}",
            rate,
            got,
            got / f64::from(rate),
            late_share * 100.0,
            ms(r.late_us.value_at_quantile(0.99)),
            ms(r.late_us.max()),
            ms(r.latency_us.value_at_quantile(0.5)),
            ms(r.latency_us.value_at_quantile(0.99)),
        );
        let sustained = got >= 0.98 * f64::from(rate) && late_share < 0.01 && r.ok == r.sent;
        if sustained {
            best = f64::from(rate);
        } else if rate > 10_000 {
            break;
        }
    }
    println!(
        "highest rate sustained here (≥ 98% achieved, < 1% leaving > 1 ms late, all OK): {best:.0}/s"
    );
    Ok(())
}

/// Closed-loop throughput at one concurrency, and latency one call at a time,
/// against h2load on one connection.
fn against_h2load(addr: SocketAddr, h2: &std::path::PathBuf, a: &str) -> anyhow::Result<()> {
    println!("\n== closed-loop generator vs h2load (one HTTP/2 connection), bare echo server");
    println!(
        "{:<26}  {:>12}  {:>12}  {:>8}",
        "", "topolab", "h2load", "ratio"
    );
    for clients in [1u32, 16, 64] {
        let r = drive(addr, &format!("    clients: {clients}\n    duration: 3s\n"))?;
        let ours = achieved(&r);
        let (h, _) = h2load::run_logged(h2, a, 1, clients, 30_000 * clients.min(4))?;
        println!(
            "{:<26}  {:>8.0} r/s  {:>8.0} r/s  {:>8.3}",
            format!("{clients} in flight (-c1 -m{clients})"),
            ours,
            h.rps,
            ours / h.rps
        );
    }
    println!("\n== latency at low load (µs → ms), bare echo server");
    let (_, mut lat) = h2load::run_logged(h2, a, 1, 1, 20_000)?;
    lat.sort_by(f64::total_cmp);
    let one = drive(addr, "    clients: 1\n    duration: 3s\n")?;
    let open = drive(addr, "    rate: 200/s\n    duration: 3s\n")?;
    println!("{:<34}  {:>9}  {:>9}", "", "p50 ms", "p99 ms");
    println!(
        "{:<34}  {:>9.3}  {:>9.3}",
        "h2load -c1 -m1",
        quantile_ms(&lat, 0.5),
        quantile_ms(&lat, 0.99)
    );
    for (label, r) in [
        ("topolab closed loop, 1 client", &one),
        ("topolab open loop, Poisson 200/s", &open),
    ] {
        println!(
            "{:<34}  {:>9.3}  {:>9.3}",
            label,
            ms(r.latency_us.value_at_quantile(0.5)),
            ms(r.latency_us.value_at_quantile(0.99))
        );
    }
    println!(
        "ratio p50 (closed, 1 client / h2load): {:.3}",
        ms(one.latency_us.value_at_quantile(0.5)) / quantile_ms(&lat, 0.5)
    );
    open_against_closed(addr, &one).map(drop)
}

/// The open loop at 200/s (constant and Poisson arrivals) against the closed
/// loop of one client just measured: an open-loop request should cost what a
/// lone client's does (goal: p50 at most 1.5×, p99 at most 1 ms).
///
/// Two more references leave the same idle gaps as 200/s: a lone client that
/// thinks 5 ms between requests, and h2load sending 200 a second from one
/// client (`--rps`). Between requests the machine's cores go idle and are
/// woken for each one as in the open loop; on a VM that halts an idle vCPU at
/// once, that wake-up (of the server's threads as much as the generator's)
/// is most of a request's time, and no generator can send around it. The
/// ratios against these are what the open loop itself adds.
fn open_against_closed(addr: SocketAddr, one: &Recorder) -> anyhow::Result<LowLoad> {
    let q = |r: &Recorder, q: f64| ms(r.latency_us.value_at_quantile(q));
    println!(
        "\n== open loop at 200/s against a closed loop of one client, bare echo server (goal: p50 ≤ 1.5×, p99 ≤ 1 ms)"
    );
    let idle = drive(addr, "    clients: 1\n    think: 5ms\n    duration: 5s\n")?;
    let paced = match h2load::find() {
        Some(h2) => {
            let (_, mut lat) = h2load::run_paced(&h2, &addr.to_string(), 200, 1_000)?;
            lat.sort_by(f64::total_cmp);
            Some((quantile_ms(&lat, 0.5), quantile_ms(&lat, 0.99)))
        }
        None => None,
    };
    println!(
        "{:<34}  {:>9}  {:>9}  {:>9}  {:>16}  {:>11}  {:>12}",
        "", "p50 ms", "p99 ms", "ratio p50", "late p50/p99 ms", "/ think p50", "/ h2load p50"
    );
    for (name, r) in [
        ("closed loop, 1 client", one),
        ("closed loop, 1 client, think 5ms", &idle),
    ] {
        println!(
            "{:<34}  {:>9.3}  {:>9.3}  {:>9.3}  {:>16}  {:>11}  {:>12}",
            name,
            q(r, 0.5),
            q(r, 0.99),
            q(r, 0.5) / q(one, 0.5),
            "-",
            "-",
            "-"
        );
    }
    match paced {
        Some((p50, p99)) => println!(
            "{:<34}  {:>9.3}  {:>9.3}  {:>9.3}  {:>16}  {:>11}  {:>12}",
            "h2load -c1 -m1 --rps 200",
            p50,
            p99,
            p50 / q(one, 0.5),
            "-",
            "-",
            "-"
        ),
        None => println!("(h2load not found: apt-get install -y nghttp2-client)"),
    }
    let mut ratios = Vec::new();
    for arrivals in ["constant", "poisson"] {
        let r = drive(
            addr,
            &format!("    rate: 200/s\n    arrivals: {arrivals}\n    duration: 5s\n"),
        )?;
        let against_h2load = match paced {
            Some((p50, _)) => format!("{:.3}", q(&r, 0.5) / p50),
            None => "-".into(),
        };
        println!(
            "{:<34}  {:>9.3}  {:>9.3}  {:>9.3}  {:>16}  {:>11.3}  {:>12}",
            format!("open loop 200/s, {arrivals}"),
            q(&r, 0.5),
            q(&r, 0.99),
            q(&r, 0.5) / q(one, 0.5),
            format!(
                "{:.3}/{:.3}",
                ms(r.late_us.value_at_quantile(0.5)),
                ms(r.late_us.value_at_quantile(0.99))
            ),
            q(&r, 0.5) / q(&idle, 0.5),
            against_h2load
        );
        ratios.push((q(&r, 0.5) / q(one, 0.5), q(&r, 0.99)));
    }
    Ok(LowLoad {
        constant: ratios[0],
        poisson: ratios[1],
    })
}
