//! What one service-to-service hop costs at low load: the open-loop generator
//! at 50/s and 200/s through a chain of four topolab services (`work: 0ms`,
//! each calling the next) against a chain of four bare tonic echo servers
//! that forward the same call, each a process of its own. The chain's median
//! latency over four hops is the cost per hop; the ratio is topolab's over
//! bare tonic's (goal: at most 1.5).

use std::net::SocketAddr;
use std::time::Duration;

use topolab_load::Recorder;

use crate::generator::drive;
use crate::{echo, topolab};
use topolab_results::units::ms_from_us as ms;

/// Services in each chain: the generator's call is the first hop.
const HOPS: usize = 4;

fn chain_yaml(trace: &str) -> String {
    let mut y = String::from("name: hops\nservices:\n");
    for i in 1..=HOPS {
        let step = if i < HOPS {
            format!("call: s{}/Echo", i + 1)
        } else {
            "work: 0ms".to_string()
        };
        y += &format!("  s{i}:\n    endpoints:\n      Echo:\n        steps:\n          - {step}\n");
    }
    y + &format!("settings:\n  trace: {trace}\n")
}

/// The bare chain, last server first so each knows the next one's address.
fn bare_chain() -> anyhow::Result<Vec<echo::EchoProcess>> {
    let mut chain: Vec<echo::EchoProcess> = Vec::new();
    for _ in 0..HOPS {
        let next = chain.last().map(|e| e.addr.clone());
        chain.push(echo::spawn_forwarding(next.as_deref())?);
    }
    Ok(chain)
}

/// p50 and mean latency per hop, ms.
fn per_hop(r: &Recorder) -> (f64, f64) {
    let h = &r.latency_us;
    (
        ms(h.value_at_quantile(0.5)) / HOPS as f64,
        h.mean() / 1e3 / HOPS as f64,
    )
}

fn open(addr: SocketAddr, rate: u32) -> anyhow::Result<Recorder> {
    let secs = if rate < 100 { 8 } else { 4 };
    drive(
        addr,
        &format!("    rate: {rate}/s\n    arrivals: constant\n    duration: {secs}s\n"),
    )
}

/// Per-hop cost at 50/s and 200/s: bare tonic, topolab untraced, topolab traced.
pub fn bench() -> anyhow::Result<()> {
    println!(
        "\n== cost per hop at low load: open loop through a chain of {HOPS} processes (p50/{HOPS}, mean/{HOPS})"
    );
    println!(
        "{:>7}  {:<20}  {:>10}  {:>10}  {:>10}  {:>10}",
        "rate", "chain", "p50/hop", "mean/hop", "ratio p50", "ratio mean"
    );
    let bare = bare_chain()?;
    let bare_addr: SocketAddr = bare[HOPS - 1].addr.parse()?;
    let traced = [("0%", "topolab, trace 0%"), ("100%", "topolab, trace 100%")];
    let mut ups = Vec::new();
    for (trace, _) in traced {
        let up = topolab::Up::start(&chain_yaml(trace), HOPS)?;
        ups.push(up);
    }
    std::thread::sleep(Duration::from_millis(300));
    for rate in [50u32, 200] {
        let b = per_hop(&open(bare_addr, rate)?);
        println!(
            "{:>5}/s  {:<20}  {:>7.3} ms  {:>7.3} ms  {:>10}  {:>10}",
            rate, "bare tonic echo", b.0, b.1, "1.000", "1.000"
        );
        for ((_, label), up) in traced.iter().zip(&ups) {
            let t = per_hop(&open(up.addr_of("s1#0")?.parse()?, rate)?);
            println!(
                "{:>5}/s  {:<20}  {:>7.3} ms  {:>7.3} ms  {:>10.3}  {:>10.3}",
                rate,
                label,
                t.0,
                t.1,
                t.0 / b.0,
                t.1 / b.1
            );
        }
    }
    println!("(goal: topolab p50 per hop ≤ 1.5× bare tonic's)");
    Ok(())
}
