//! Driving h2load (nghttp2's HTTP/2 load generator) at a unary gRPC method and
//! reading its figures. h2load counts HTTP 200 as success even for gRPC
//! errors, so the bench checks the method answers OK once with its own client
//! elsewhere; here we only read rates and latencies.

use std::path::PathBuf;
use std::process::Command;

use prost::Message;
use topolab_proto::v1::CallRequest;

/// What one h2load run measured.
pub struct H2Figures {
    pub rps: f64,
    pub mean_us: f64,
    pub failed: u64,
}

/// h2load on PATH, if installed.
pub fn find() -> Option<PathBuf> {
    let out = Command::new("h2load").arg("--version").output().ok()?;
    out.status.success().then(|| PathBuf::from("h2load"))
}

/// `h2load -n N -c C -m M` against `topolab.v1.Replica/Call` at `addr`.
pub fn run(h2load: &PathBuf, addr: &str, c: u32, m: u32, n: u32) -> anyhow::Result<H2Figures> {
    run_logged(h2load, addr, c, m, n).map(|(f, _)| f)
}

/// As [`run`], with every request's latency in µs from h2load's `--log-file`
/// (its summary has no percentiles).
pub fn run_logged(
    h2load: &PathBuf,
    addr: &str,
    c: u32,
    m: u32,
    n: u32,
) -> anyhow::Result<(H2Figures, Vec<f64>)> {
    run_with(h2load, addr, c, m, n, &[])
}

/// One client sending `n` requests one at a time, `rps` a second (h2load
/// `--rps`: each request leaves at its slot, or when the previous one
/// answers if that is later), with every request's latency in µs.
pub fn run_paced(
    h2load: &PathBuf,
    addr: &str,
    rps: u32,
    n: u32,
) -> anyhow::Result<(H2Figures, Vec<f64>)> {
    run_with(h2load, addr, 1, 1, n, &[format!("--rps={rps}")])
}

fn run_with(
    h2load: &PathBuf,
    addr: &str,
    c: u32,
    m: u32,
    n: u32,
    extra: &[String],
) -> anyhow::Result<(H2Figures, Vec<f64>)> {
    let body = CallRequest {
        endpoint: "Echo".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
    framed.extend_from_slice(&body);
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), &framed)?;
    let log = tempfile::NamedTempFile::new()?;
    let out = Command::new(h2load)
        .args([
            "-n",
            &n.to_string(),
            "-c",
            &c.to_string(),
            "-m",
            &m.to_string(),
            "-t",
            "1",
        ])
        .args(extra)
        .arg("-d")
        .arg(file.path())
        .arg("--log-file")
        .arg(log.path())
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg(format!("http://{addr}/topolab.v1.Replica/Call"))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let figures =
        parse(&text).ok_or_else(|| anyhow::anyhow!("could not read h2load's output:\n{text}"))?;
    // Each line: start time (µs since the run began), status, latency (µs).
    let latencies = std::fs::read_to_string(log.path())?
        .lines()
        .filter_map(|l| l.split('\t').nth(2)?.trim().parse().ok())
        .collect();
    Ok((figures, latencies))
}

fn parse(text: &str) -> Option<H2Figures> {
    let rps = text
        .lines()
        .find(|l| l.starts_with("finished in"))?
        .split(',')
        .nth(1)?
        .trim()
        .strip_suffix("req/s")?
        .trim()
        .parse()
        .ok()?;
    let latency = text
        .lines()
        .find(|l| l.trim_start().starts_with("time for request:"))?;
    let mean = latency.split_whitespace().nth(5)?;
    let failed = text
        .lines()
        .find(|l| l.starts_with("requests:"))?
        .split(',')
        .find(|p| p.contains("failed"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(H2Figures {
        rps,
        mean_us: to_us(mean)?,
        failed,
    })
}

fn to_us(v: &str) -> Option<f64> {
    if let Some(x) = v.strip_suffix("us") {
        x.parse().ok()
    } else if let Some(x) = v.strip_suffix("ms") {
        x.parse::<f64>().ok().map(|x| x * 1e3)
    } else {
        v.strip_suffix('s')?.parse::<f64>().ok().map(|x| x * 1e6)
    }
}
