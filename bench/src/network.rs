//! `make bench BENCH=network` (only when asked: it needs root): what a
//! modelled network costs. Start-up of 100 replicas each in a namespace of
//! its own against the same on loopback (the whole `topolab run`, wall
//! time), and one hop's cost through a link that does nothing (`delay: 0ms`)
//! against loopback: the load's p50 through `api -> db` at 50/s.

use std::time::Instant;

use crate::topolab;

const STARTUP: &str = "name: net-startup\nservices:\n  api:\n    replicas: 99\n    endpoints: { Get: { steps: [ { call: db/Q } ] } }\n  db:\n    endpoints: { Q: {} }\nload:\n  l: { target: api/Get, rate: 10/s, duration: 1s }\n";
const HOP: &str = "name: net-hop\nservices:\n  api:\n    model: async\n    workers: 8\n    endpoints: { Get: { steps: [ { call: db/Q } ] } }\n  db:\n    model: async\n    workers: 8\n    endpoints: { Q: {} }\nload:\n  l: { target: api/Get, rate: 50/s, duration: 8s }\n";
const LINK: &str = "network:\n  links:\n    api -> db: { delay: 0ms }\n";

/// Prints both ratios.
pub fn bench() -> anyhow::Result<()> {
    println!("\n== network: namespaces and the launcher's wire against loopback");
    let time = |yaml: &str| -> anyhow::Result<(f64, serde_json::Value)> {
        let t = Instant::now();
        let s = topolab::run_once(yaml)?;
        Ok((t.elapsed().as_secs_f64(), s))
    };
    let (plain, _) = time(STARTUP)?;
    let (netted, _) = time(&format!("{STARTUP}{LINK}"))?;
    println!(
        "start-up and 1 s of load, 100 replicas: {netted:.2} s with namespaces / {plain:.2} s on loopback = {:.2}",
        netted / plain
    );
    let p50 = |s: &serde_json::Value| s["load"]["l"]["latency_ms"]["p50"].as_f64().unwrap_or(0.0);
    let (_, plain) = time(HOP)?;
    let (_, netted) = time(&format!("{HOP}{LINK}"))?;
    let (a, b) = (p50(&netted), p50(&plain));
    println!(
        "load -> api -> db at 50/s, p50: {a:.3} ms through a 0 ms link / {b:.3} ms on loopback = {:.2}",
        a / b
    );
    let wire = &netted["links"]["api -> db"]["wire_ms"];
    println!("api -> db time on the wire with the 0 ms link: {wire}");
    Ok(())
}
