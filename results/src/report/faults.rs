//! The report's faults section: every fault of the timeline as it ran (when
//! it was asked for, when it took effect and was lifted) and its effect: the
//! load's requests that failed while it was in force against as long a
//! window just before it, and what the service it hit turned away or failed
//! meanwhile. Restarts are listed with it.

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::load_series::LoadRow;
use crate::requests::RequestSample;
use crate::summary::Summary;
use crate::timeseries::ServiceSeries;

/// Requests sent and failed (anything but OK) over a window, by the load's
/// intervals that overlap it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Effect {
    pub sent: u64,
    pub failed: u64,
}

impl Effect {
    fn share(&self) -> String {
        if self.sent == 0 {
            "–".into()
        } else {
            format!("{:.1}%", self.failed as f64 * 100.0 / self.sent as f64)
        }
    }

    fn cell(&self) -> Markup {
        html! { td { (self.failed) " of " (self.sent) " (" (self.share()) ")" } }
    }
}

/// The requests of the sample due in `[from, to)` and how many of them
/// failed: exact when the sample holds every request, an estimate of the
/// share otherwise.
pub fn sampled_effect(sample: &[RequestSample], from: f64, to: f64) -> Effect {
    sample
        .iter()
        .filter(|r| r.t_s >= from && r.t_s < to)
        .fold(Effect::default(), |e, r| Effect {
            sent: e.sent + 1,
            failed: e.failed + u64::from(r.outcome != "OK"),
        })
}

/// The load's figures over `[from, to]` from `load_timeseries.csv`: every
/// interval of `every` seconds (ending at its `t_s`) that overlaps it. A
/// request counts as sent when it leaves and as failed when it ends, so
/// failures can outnumber what was sent in a short window.
pub fn effect(rows: &[LoadRow], every: f64, from: f64, to: f64) -> Effect {
    rows.iter()
        .filter(|r| r.t_s > from + 1e-9 && r.t_s - every < to - 1e-9)
        .fold(Effect::default(), |e, r| Effect {
            sent: e.sent + r.sent,
            failed: e.failed + r.failed(),
        })
}

/// What the service rejected and failed over `[from, to]` (its replicas
/// together), and what arrived.
fn service_effect(s: &ServiceSeries, every: f64, from: f64, to: f64) -> (u64, u64, u64) {
    let mut out = (0, 0, 0);
    for (i, t) in s.t_s.iter().enumerate() {
        if *t > from + 1e-9 && t - every < to - 1e-9 {
            out.0 += s.arrived[i];
            out.1 += s.rejected[i];
            out.2 += s.failed[i];
        }
    }
    out
}

/// The section, or `None` when the run had neither faults nor restarts.
pub fn section(
    summary: &Summary,
    sample: Option<&[RequestSample]>,
    load: Option<&[LoadRow]>,
    services: Option<&BTreeMap<String, ServiceSeries>>,
    every: f64,
    end_s: f64,
) -> Option<Markup> {
    if summary.faults.is_empty() && summary.restart_log.is_empty() {
        return None;
    }
    let sent: u64 = summary.load.values().map(|l| l.sent).sum();
    let sample = sample.filter(|s| !s.is_empty());
    // Over `[a, b]` and as long a window before it.
    let effects = |a: f64, b: f64| -> Option<(Effect, Effect)> {
        let before = (a - (b - a)).max(0.0);
        match (sample, load) {
            (Some(s), _) => Some((sampled_effect(s, a, b), sampled_effect(s, before, a))),
            (None, Some(rows)) => Some((effect(rows, every, a, b), effect(rows, every, before, a))),
            (None, None) => None,
        }
    };
    let how = match sample {
        Some(s) if s.len() as u64 >= sent => "of the requests due while it was in force (from requests.csv: every request)".to_string(),
        Some(s) => format!("of the requests due while it was in force, in the sample of {} (requests.csv): the share is an estimate", s.len()),
        None => "of the requests that left and ended in the intervals of load_timeseries.csv overlapping the window (a request counts as sent when it leaves and failed when it ends)".to_string(),
    };
    Some(html! {
        @if !summary.faults.is_empty() {
            table.faults #faults {
                tr {
                    th { "fault" } th { "target" } th { "asked" } th { "in force" }
                    th { "load failed during" } th { "just before" } th { "target service during" }
                }
                @for f in &summary.faults {
                    @let window = f.window(end_s);
                    tr {
                        td { b { (f.fault) } }
                        td { (f.target) }
                        td { (format!("at {:.1}s", f.at_s)) (f.for_s.map_or(String::new(), |d| format!(" for {d:.1}s"))) }
                        td {
                            @match window {
                                Some((a, _)) if f.fault == "kill" => (format!("{a:.2}s (the process dies; see restarts)")),
                                Some((a, b)) => (format!("{a:.2}s – {b:.2}s")),
                                None => "never applied",
                            }
                        }
                        @match window.and_then(|(a, b)| effects(a, if f.fault == "kill" { (a + 1.0).min(end_s) } else { b })) {
                            Some((during, before)) => { (during.cell()) (before.cell()) }
                            None => { td { "–" } td { "–" } }
                        }
                        td {
                            @match (window, services.and_then(|s| s.get(f.service()))) {
                                (Some((a, b)), Some(s)) => {
                                    @let b = if f.fault == "kill" { (a + 1.0).min(end_s) } else { b };
                                    @let (arrived, rejected, failed) = service_effect(s, every, a, b);
                                    (arrived) " arrived · " (rejected) " rejected · " (failed) " failed"
                                }
                                _ => "–",
                            }
                        }
                    }
                    @for p in &f.problems {
                        tr { td colspan="7" .missing { "problem: " (p) } }
                    }
                }
            }
            p.muted {
                "\"Load failed\": the share " (how) " that ended in any way but OK, against as long a window just before. A kill's effect is counted over the second after it."
            }
        }
        @if !summary.restart_log.is_empty() {
            p {
                "Restarts (" code { "restart: always" } "): "
                (summary.restart_log.iter().map(|r| format!("{} at {:.2}s", r.replica, r.t_s)).collect::<Vec<_>>().join(", "))
                "."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: f64, sent: u64, rejected: u64) -> LoadRow {
        LoadRow {
            t_s: t,
            generator: "g".into(),
            sent,
            ok: sent - rejected,
            rejected,
            timeouts: 0,
            errors: 0,
            p50_ms: None,
            p99_ms: None,
        }
    }

    #[test]
    fn the_effect_counts_the_intervals_inside_the_window() {
        let rows: Vec<LoadRow> = (1..=50)
            .map(|i| {
                row(
                    i as f64 * 0.1,
                    2,
                    if (21..=30).contains(&i) { 1 } else { 0 },
                )
            })
            .collect();
        assert_eq!(
            effect(&rows, 0.1, 2.0, 3.0),
            Effect {
                sent: 20,
                failed: 10
            }
        );
        assert_eq!(
            effect(&rows, 0.1, 1.0, 2.0),
            Effect {
                sent: 20,
                failed: 0
            }
        );
    }

    #[test]
    fn the_sampled_effect_counts_requests_due_in_the_window() {
        let r = |t: f64, outcome: &str| RequestSample {
            generator: "g".into(),
            t_s: t,
            latency_ms: 1.0,
            outcome: outcome.into(),
            trace_id: None,
        };
        let s = [
            r(0.5, "OK"),
            r(1.0, "DEADLINE_EXCEEDED"),
            r(1.5, "OK"),
            r(2.0, "UNAVAILABLE"),
        ];
        assert_eq!(sampled_effect(&s, 1.0, 2.0), Effect { sent: 2, failed: 1 });
    }
}
