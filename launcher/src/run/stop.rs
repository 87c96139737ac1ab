//! Phase 3 of a run: the requests still held drained (`up`, whose callers
//! are outside), the last telemetry, every replica's figures, the spans
//! flushed; then every process stopped and `traces.jsonl` finished.

use super::*;

/// After [`collect_and_stop`]: every figure in hand, every process gone.
pub(crate) struct Collected {
    pub(crate) outcome: Outcome,
    /// What went to `timeseries.csv` while the run went on.
    pub(crate) telemetry: telemetry::Written,
    pub(crate) figures: BTreeMap<String, ServiceFigures>,
    pub(crate) trace_summary: topolab_collector::TraceSummary,
}

/// How long `up` waits, after Ctrl-C, for the requests its replicas still
/// hold to end before taking their figures.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Phase 3: the requests still held drained (`up`, whose callers are
/// outside), the last telemetry, every replica's figures, the spans
/// flushed; then every process is stopped and `traces.jsonl` finished.
pub(super) async fn collect_and_stop(
    driven: Driven,
    opts: &RunOptions,
    traces: RunTraces,
) -> anyhow::Result<Collected> {
    let Driven {
        mut fleet,
        peers,
        gatherer,
        outcome,
        ..
    } = driven;
    if let Some((id, status)) = fleet.exited().first() {
        say(
            opts,
            format!("warning: replica {id} died during the run ({status})"),
        );
    }
    if outcome.recorders.is_empty() {
        // `up`: outside callers' requests may still wait in the queues, and
        // their answers still go out; taken now, the figures would miss them.
        let held = collect::held(&peers).await;
        if held > 0 {
            say(
                opts,
                format!(
                    "answering the {held} call(s) still held before counting (up to {DRAIN_LIMIT:?})"
                ),
            );
            let left = collect::drain(&peers, DRAIN_LIMIT).await;
            if left > 0 {
                say(
                    opts,
                    format!(
                        "warning: {left} call(s) still held after {DRAIN_LIMIT:?}: how they end is missing from the figures"
                    ),
                );
            }
        }
    }
    let telemetry = gatherer.finish().await;
    let figures = collect::collect(&peers).await;
    traces.flush_generators().await;
    // Blocks this thread while replicas flush their spans to the collector,
    // which must keep running on the others.
    tokio::task::block_in_place(|| fleet.stop(Duration::from_secs(2)));
    let mut figures = figures?;
    if let Some(w) = &outcome.warmed {
        warmup::subtract(&mut figures, &w.baseline);
    }
    let replica_spans = figures.values().fold((0, 0), |(r, d), f| {
        (r + f.spans_recorded, d + f.spans_dropped)
    });
    let trace_summary = traces.finish(replica_spans).await;
    Ok(Collected {
        outcome,
        telemetry,
        figures,
        trace_summary,
    })
}
