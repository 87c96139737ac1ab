//! What tracing costs: one-hop throughput with `settings.trace: 100%` (every
//! request recorded as a span, exported and collected) against `0%`, under
//! the same h2load load; and how many spans per second the run's collector
//! takes in over OTLP/gRPC.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use topolab_collector::receiver::Collector;
use topolab_collector::writer::Writer;
use topolab_services::trace::SpanContext;
use topolab_services::trace::span::{Kind, SpanBuilder, Value, keys, kv};

use crate::{h2load, topolab};

fn hop_yaml(trace: &str) -> String {
    format!(
        "name: hop\nservices:\n  echo:\n    workers: 1000\n    queue: unbounded\n    endpoints:\n      Echo:\n        steps:\n          - work: 0ms\nsettings:\n  trace: {trace}\n"
    )
}

/// Rounds of the pair; their median ratio is the figure.
const ROUNDS: usize = 5;
/// Calls per h2load run.
const CALLS: u32 = 300_000;
/// How long after the load the launcher's CPU is read: its writer decides
/// a trace 600 ms after its last span, and may be behind.
const SETTLE: Duration = Duration::from_millis(1500);

/// What one setting measured.
#[derive(Default, Clone, Copy)]
struct Round {
    rps: f64,
    /// CPU per call, µs.
    replica_us: f64,
    launcher_us: f64,
}

/// h2load sends no `traceparent`, so the replica samples each request
/// itself at `settings.trace` and records it as a root SERVER span. The two
/// settings alternate which goes first, so that a drift of the machine
/// during a round does not favour one; spans lost on the way are printed
/// beside the ratio (collected of recorded), so that tracing cannot look
/// cheap by dropping them. The CPU each process spent per call (summed from
/// every thread's schedstat) shows where the cost goes, steadier than the
/// throughput of a shared two-core machine.
pub fn one_hop_cost() -> anyhow::Result<()> {
    let Some(h2load) = h2load::find() else {
        println!(
            "\n== tracing cost: skipped, h2load not found (apt-get install -y nghttp2-client)"
        );
        return Ok(());
    };
    println!(
        "\n== tracing cost on one hop (h2load -c16 -m32, {}k calls): trace 100% / trace 0%",
        CALLS / 1000
    );
    println!(
        "{:<6}  {:>10}  {:>10}  {:>6}  {:>15}  {:>24}  {:>16}",
        "round",
        "0% r/s",
        "100% r/s",
        "ratio",
        "spans collected",
        "replica CPU µs/call 0/100%",
        "launcher µs/span"
    );
    let mut ratios = Vec::new();
    let mut added = Vec::new();
    for round in 0..ROUNDS {
        let mut figures = [Round::default(); 2];
        let mut collected = String::new();
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let trace = ["0%", "100%"][i];
            let up = topolab::Up::start(&hop_yaml(trace), 1)?;
            std::thread::sleep(Duration::from_millis(300));
            let cpu = |up: &topolab::Up| {
                let replicas: u64 = topolab::children(up.pid())
                    .into_iter()
                    .filter_map(topolab::cpu_ns)
                    .sum();
                (replicas, topolab::cpu_ns(up.pid()).unwrap_or(0))
            };
            let before = cpu(&up);
            figures[i].rps = h2load::run(&h2load, &up.addrs[0], 16, 32, CALLS)?.rps;
            std::thread::sleep(SETTLE);
            let after = cpu(&up);
            let per_call = |a: u64, b: u64| a.saturating_sub(b) as f64 / 1e3 / f64::from(CALLS);
            figures[i].replica_us = per_call(after.0, before.0);
            figures[i].launcher_us = per_call(after.1, before.1);
            let summary = up.stop()?;
            if i == 1 {
                let spans = &summary["traces"];
                collected = format!(
                    "{} of {}",
                    spans["spans_received"].as_u64().unwrap_or(0),
                    spans["spans_recorded"].as_u64().unwrap_or(0)
                );
            }
        }
        let [off, on] = figures;
        ratios.push(on.rps / off.rps);
        added.push((
            on.replica_us - off.replica_us,
            on.launcher_us,
            off.replica_us,
        ));
        println!(
            "{:<6}  {:>10.0}  {:>10.0}  {:>6.3}  {:>15}  {:>24}  {:>16.2}",
            round + 1,
            off.rps,
            on.rps,
            on.rps / off.rps,
            collected,
            format!("{:.2} / {:.2}", off.replica_us, on.replica_us),
            on.launcher_us
        );
    }
    ratios.sort_by(f64::total_cmp);
    added.sort_by(|a, b| f64::total_cmp(&(a.0 + a.1), &(b.0 + b.1)));
    let (replica, launcher, base) = added[ROUNDS / 2];
    println!(
        "median ratio {:.3} (1.0 = tracing is free; goal >= 0.90)",
        ratios[ROUNDS / 2]
    );
    println!(
        "median CPU added per call by tracing: {:.2} µs in the replica + {:.2} µs in the launcher, against {:.2} µs of an untraced call in the replica",
        replica, launcher, base
    );
    Ok(())
}

/// Spans per second the collector ingests from `clients` concurrent
/// exporters sending batches of 512 topolab-shaped spans.
pub fn collector_ingest() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("topolab-bench-ingest-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let writer = Writer::start(&dir, 64 << 30)?;
        let collector = Collector::start(writer.sink(), ([127, 0, 0, 1], 0).into()).await?;
        let url = format!("http://{}", collector.addr);
        let batch = batch(512);
        println!(
            "\n== collector ingest (OTLP/gRPC Export, batches of 512 spans, in-process clients)"
        );
        println!("{:>8}  {:>10}  {:>14}", "clients", "spans", "spans/s");
        for clients in [1, 4] {
            let per_client = 200;
            let start = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..clients {
                let mut client = TraceServiceClient::connect(url.clone()).await?;
                let batch = batch.clone();
                tasks.push(tokio::spawn(async move {
                    for _ in 0..per_client {
                        client.export(batch.clone()).await?;
                    }
                    anyhow::Ok(())
                }));
            }
            for t in tasks {
                t.await??;
            }
            let spans = clients * per_client * 512;
            println!(
                "{:>8}  {:>10}  {:>14.0}",
                clients,
                spans,
                spans as f64 / start.elapsed().as_secs_f64()
            );
        }
        let got = collector.stop().await;
        let start = Instant::now();
        let written = tokio::task::spawn_blocking(move || writer.finish()).await?;
        println!(
            "({} spans taken, {} refused because the writer was behind; {} written to traces.jsonl, {:.0} MiB, {:.1} s after the last export)",
            got.spans,
            got.rejected,
            written.spans,
            written.bytes as f64 / f64::from(1 << 20),
            start.elapsed().as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&dir);
        anyhow::Ok(())
    })
}

fn batch(n: usize) -> ExportTraceServiceRequest {
    let now = std::time::Instant::now();
    let parent = SpanContext::new_root(true);
    let spans = (0..n)
        .map(|_| {
            SpanBuilder::new(
                parent.child(),
                Some(parent.span_id),
                Kind::Server,
                "db/Query".into(),
                now,
                now,
            )
            .str(keys::ENDPOINT, "Query")
            .int(keys::QUEUE_NS, 1000)
            .int(keys::WORK_NS, 2_000_000)
            .int(keys::DOWNSTREAM_NS, 0)
            .into_otlp()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", Value::Str("db".into())),
                    kv("service.instance.id", Value::Str("db#0".into())),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
