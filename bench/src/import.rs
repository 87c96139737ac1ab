//! `import`: `topolab import`'s speed on a file of more than a million
//! spans (the target: a million in under 10 s), against the time to only
//! read and parse the same file into OTLP `TracesData`, measured in the
//! same run; and its peak memory after a quarter of the file and after all
//! of it (bounded: it should not grow with the length).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Instant;

use opentelemetry_proto::tonic::trace::v1::TracesData;

/// Traces in the big file; six spans each.
const TRACES: u64 = 170_000;

/// One trace as topolab writes it: the load's CLIENT span, front's SERVER
/// span and its two calls (CLIENT, then the callee's SERVER), one line.
fn trace_line(out: &mut String, t: u64) {
    use std::fmt::Write as _;
    let t0 = 1_700_000_000_000_000_000u64 + t * 10_000_000;
    let span = |out: &mut String, id: u64, parent: u64, name: &str, kind: u8, s: u64, e: u64| {
        let parent = if parent == 0 {
            String::new()
        } else {
            format!(r#""parentSpanId":"{parent:016x}","#)
        };
        let _ = write!(
            out,
            r#"{{"traceId":"{t:032x}","spanId":"{id:016x}",{parent}"name":"{name}","kind":{kind},"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{{"key":"rpc.grpc.status_code","value":{{"intValue":"0"}}}}]}}"#,
            t0 + s,
            t0 + e
        );
    };
    let resource = |out: &mut String, svc: &str| {
        let _ = write!(
            out,
            r#"{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"{svc}"}}}}]}},"scopeSpans":[{{"spans":["#
        );
    };
    let b = t * 8;
    out.push_str(r#"{"resourceSpans":["#);
    resource(out, "load");
    span(out, b + 1, 0, "front/Home", 3, 0, 9_000_000);
    out.push_str("]}]},");
    resource(out, "front");
    span(out, b + 2, b + 1, "Home", 2, 100_000, 8_900_000);
    out.push(',');
    span(out, b + 3, b + 2, "users/Get", 3, 2_000_000, 5_000_000);
    out.push(',');
    span(
        out,
        b + 4,
        b + 2,
        "posts/List",
        3,
        2_000_000 + (t % 7) * 1_000,
        6_000_000,
    );
    out.push_str("]}]},");
    resource(out, "users");
    span(out, b + 5, b + 3, "Get", 2, 2_100_000, 4_900_000);
    out.push_str("]}]},");
    resource(out, "posts");
    span(out, b + 6, b + 4, "List", 2, 2_100_000, 5_900_000);
    out.push_str("]}]}]}\n");
}

fn write_file(path: &Path, traces: u64) -> anyhow::Result<u64> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut line = String::new();
    for t in 1..=traces {
        line.clear();
        trace_line(&mut line, t);
        f.write_all(line.as_bytes())?;
    }
    f.flush()?;
    Ok(traces * 6)
}

/// Reads and parses every line into `TracesData`, and nothing more.
fn parse_only(path: &Path) -> anyhow::Result<u64> {
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut line = String::new();
    let mut spans = 0u64;
    while r.read_line(&mut line)? > 0 {
        let d: TracesData = serde_json::from_str(line.trim_end())?;
        spans += d
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len() as u64)
            .sum::<u64>();
        line.clear();
    }
    Ok(spans)
}

/// This process's peak resident memory so far, MiB.
fn peak_mib() -> f64 {
    // SAFETY: getrusage writes only into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_maxrss as f64 / 1024.0
}

/// The import benchmark.
pub fn bench() -> anyhow::Result<()> {
    println!(
        "\n== import: spans per second through `topolab import`, against only reading and parsing the same file"
    );
    let dir = tempfile::tempdir()?;
    let small = dir.path().join("quarter.jsonl");
    let big = dir.path().join("traces.jsonl");
    write_file(&small, TRACES / 4)?;
    let spans = write_file(&big, TRACES)?;
    let mib = std::fs::metadata(&big)?.len() as f64 / (1 << 20) as f64;
    let opts = topolab_import::Options::default();
    topolab_import::import(std::slice::from_ref(&small), &opts)?;
    let after_quarter = peak_mib();
    let t = Instant::now();
    let imported = topolab_import::import(std::slice::from_ref(&big), &opts)?;
    let import_s = t.elapsed().as_secs_f64();
    let after_all = peak_mib();
    let t = Instant::now();
    let parsed = parse_only(&big)?;
    let parse_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        parsed == spans && imported.summary.spans == spans,
        "span counts differ"
    );
    println!(
        "{spans} spans ({mib:.0} MiB of OTLP/JSON lines): import {import_s:.2} s ({:.0} spans/s; target: 1,000,000 in under 10 s), read and parse only {parse_s:.2} s ({:.0} spans/s); import / parse = {:.2}x",
        spans as f64 / import_s,
        spans as f64 / parse_s,
        import_s / parse_s
    );
    println!(
        "peak memory: {after_quarter:.0} MiB after importing a quarter of the spans, {after_all:.0} MiB after all of them ({:.2}x for 4x the spans)",
        after_all / after_quarter
    );
    Ok(())
}
