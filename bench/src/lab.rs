//! The lab's cost (`make bench BENCH=lab`): one topology at 1,000 requests/s
//! run by `topolab run`, then by `topolab lab` with no page, one page and
//! ten pages watching (each a reader of `/api/events`). Printed per case:
//! the launcher's CPU over 10 s of load as a share of one core, the extra
//! over `run` (the goal: the stream at most 5% of a core), and the
//! generator's p50 and p99 against `run`'s (ten pages should not move them).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::topolab::{binary, cpu_ns};

const TOPOLOGY: &str = "name: labbench
services:
  api:
    workers: 8
    endpoints:
      Get: { steps: [ {work: exp(1ms)} ] }
load:
  clients: { target: api/Get, rate: 1000/s, duration: 15s }
settings:
  trace: 0%
  seed: 7
";

/// The window measured: from 3 s to 13 s of load.
const FROM: Duration = Duration::from_secs(3);
const SPAN: Duration = Duration::from_secs(10);

/// One case's figures: CPU share of one core, p50 and p99 ms.
struct Case {
    cpu: f64,
    p50: f64,
    p99: f64,
}

pub fn bench() -> anyhow::Result<()> {
    println!(
        "\n== the lab's cost at 1,000 requests/s: launcher CPU over 10 s of load, latency against `run`"
    );
    let base = run_case()?;
    println!(
        "{:<16}  {:>9}  {:>11}  {:>8}  {:>8}  {:>9}  {:>9}",
        "case", "cpu/core", "extra/core", "p50 ms", "p99 ms", "p50/run", "p99/run"
    );
    let line = |name: &str, c: &Case| {
        println!(
            "{name:<16}  {:>8.1}%  {:>10.1}%  {:>8.2}  {:>8.2}  {:>9.3}  {:>9.3}",
            c.cpu * 100.0,
            (c.cpu - base.cpu) * 100.0,
            c.p50,
            c.p99,
            c.p50 / base.p50.max(1e-9),
            c.p99 / base.p99.max(1e-9)
        )
    };
    line("run", &base);
    for pages in [0, 1, 10] {
        let c = lab_case(pages)?;
        line(&format!("lab, {pages} page(s)"), &c);
    }
    Ok(())
}

/// Latency of the generator in a run folder's summary.
fn latency(dir: &std::path::Path) -> anyhow::Result<(f64, f64)> {
    let s: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json"))?)?;
    let l = &s["load"]["clients"]["latency_ms"];
    Ok((
        l["p50"].as_f64().unwrap_or(0.0),
        l["p99"].as_f64().unwrap_or(0.0),
    ))
}

/// Waits for the load to start (a line on stderr), then measures the CPU.
fn measure(child: &mut Child, started: &str) -> anyhow::Result<f64> {
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("ended before load"))??;
        if line.contains(started) {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    std::thread::sleep(FROM);
    let pid = child.id();
    let (t0, c0) = (Instant::now(), cpu_ns(pid).unwrap_or(0));
    std::thread::sleep(SPAN);
    let c1 = cpu_ns(pid).unwrap_or(0);
    Ok((c1 - c0) as f64 / t0.elapsed().as_nanos() as f64)
}

fn run_case() -> anyhow::Result<Case> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, TOPOLOGY)?;
    let out = dir.path().join("run");
    let mut child = Command::new(binary()?)
        .args(["run", file.to_str().unwrap_or_default(), "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let cpu = measure(&mut child, "sending load")?;
    child.wait()?;
    let (p50, p99) = latency(&out)?;
    Ok(Case { cpu, p50, p99 })
}

/// An HTTP/1.1 request with the token, on a connection of its own.
fn request(addr: &str, token: &str, head: &str, body: &str) -> anyhow::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "{head} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    Ok(s)
}

fn lab_case(pages: usize) -> anyhow::Result<Case> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, TOPOLOGY)?;
    let out = dir.path().join("run");
    let mut child = Command::new(binary()?)
        .args(["lab", file.to_str().unwrap_or_default(), "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().ok_or_else(|| anyhow::anyhow!("no URL"))??;
        if let Some(u) = line.strip_prefix("lab: http://") {
            break u.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let (addr, token) = url
        .split_once("/?token=")
        .ok_or_else(|| anyhow::anyhow!("a URL without a token"))?;
    let (addr, token) = (addr.to_string(), token.to_string());
    for _ in 0..pages {
        let mut s = request(&addr, &token, "GET /api/events", "")?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    let cpu = measure(&mut child, "sending load")?;
    let mut stop = request(&addr, &token, "POST /api/control", r#"{"stop": true}"#)?;
    let mut answer = String::new();
    let _ = stop.read_to_string(&mut answer);
    child.wait()?;
    let (p50, p99) = latency(&out)?;
    Ok(Case { cpu, p50, p99 })
}
