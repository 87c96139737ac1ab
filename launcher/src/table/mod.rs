//! The summary a person reads at the end of a run: one table for the load as
//! the askers saw it, one for each service endpoint as the answerers saw it.

use std::fmt::Write;

use crate::summary::Summary;
use topolab_results::units::ms;

mod links;
mod timing;
mod updates;

use timing::{late_matters, lateness};

/// Renders the summary as aligned plain-text tables.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    if s.prediction.is_some() {
        // Said on its face: these figures are the simulator's, not a run's.
        let _ = writeln!(
            out,
            "\nPREDICTION of {} — simulated, no process started; seed {}, {:.1} s simulated",
            s.topology, s.seed, s.duration_s
        );
        return render_tables(s, out);
    }
    let _ = writeln!(
        out,
        "\n{} — seed {}, {}, {} process{}{}",
        s.topology,
        s.seed,
        s.time_in_words(),
        s.processes,
        if s.processes == 1 { "" } else { "es" },
        if s.interrupted { " (interrupted)" } else { "" }
    );
    render_tables(s, out)
}

/// The tables under the heading line.
fn render_tables(s: &Summary, mut out: String) -> String {
    if !s.load.is_empty() {
        let mut rows = vec![row(&[
            "load", "target", "sent", "ok", "rejected", "timeouts", "errors", "asked/s", "sent/s",
            "ok/s", "p50 ms", "p99 ms", "max ms",
        ])];
        // Shown only when a generator fell behind its schedule enough to matter.
        let any_late = s.load.values().any(late_matters);
        if any_late {
            rows[0].push("late>1ms".into());
        }
        for (name, l) in &s.load {
            let errors: u64 = l.errors.values().sum();
            rows.push(vec![
                name.clone(),
                l.target.clone(),
                l.sent.to_string(),
                l.ok.to_string(),
                l.rejected.to_string(),
                l.timeouts.to_string(),
                errors.to_string(),
                l.asked_rate.map_or("-".into(), |r| format!("{r:.2}")),
                format!("{:.2}", l.sent_rate),
                format!("{:.2}", l.throughput),
                ok_ms(l.ok, l.latency_ms.p50),
                ok_ms(l.ok, l.latency_ms.p99),
                ok_ms(l.ok, l.latency_ms.max),
            ]);
            if any_late && let Some(r) = rows.last_mut() {
                r.push(l.late_over_1ms.to_string());
            }
        }
        out.push('\n');
        out.push_str(&align(&rows));
        out.push_str(&reasons(s));
        out.push_str(&lateness(s));
    }
    let mut rows = vec![row(&[
        "service/endpoint",
        "replicas",
        "requests",
        "ok",
        "rejected",
        "errors",
        "max queue",
        "p50 ms",
        "p99 ms",
        "queue p50",
        "queue p99",
        "work mean",
    ])];
    for (name, svc) in &s.services {
        // Whose figures these are: a dead replica's died with it.
        let replicas = match svc.unreachable.len() as u32 {
            0 => svc.replicas.to_string(),
            dead => format!("{} of {}", svc.replicas.saturating_sub(dead), svc.replicas),
        };
        for (ep, e) in &svc.endpoints {
            let errors: u64 = e.errors.values().sum();
            rows.push(vec![
                format!("{name}/{ep}"),
                replicas.clone(),
                e.requests.to_string(),
                e.ok.to_string(),
                e.rejected.to_string(),
                errors.to_string(),
                e.max_queue.to_string(),
                ok_ms(e.ok, e.latency_ms.p50),
                ok_ms(e.ok, e.latency_ms.p99),
                ms(e.queue_wait_ms.p50),
                ms(e.queue_wait_ms.p99),
                ms(e.work_ms.mean),
            ]);
        }
        for l in &svc.lost {
            let mut r = vec![
                match &l.endpoint {
                    Some(ep) => format!("{name}#{}/{ep}", l.replica),
                    None => format!("{name}#{}", l.replica),
                },
                "dead".into(),
                l.requests.to_string(),
                l.ok.to_string(),
                l.rejected.to_string(),
                l.failed.to_string(),
            ];
            r.resize(rows[0].len(), "-".into());
            rows.push(r);
        }
    }
    out.push('\n');
    out.push_str(&align(&rows));
    out.push_str(&updates::render(s));
    if !s.cascade.text.is_empty() {
        let _ = writeln!(out, "\ncascade: {}", s.cascade.text);
    }
    out.push_str(&fleet_notes(s));
    out.push_str(&links::render(s));
    out.push_str(&lost_spans(s));
    out.push_str(&timing::overrun(s));
    out
}

/// Why requests failed: per generator and code, the commonest message
/// (`summary.json` has a few per code, with counts).
fn reasons(s: &Summary) -> String {
    let mut out = String::new();
    for (name, l) in &s.load {
        for (code, messages) in &l.messages.0 {
            let Some(top) = messages.first() else {
                continue;
            };
            let total: u64 = messages.iter().map(|m| m.count).sum();
            let more = match messages.len() {
                1 => String::new(),
                n => format!(" (and {} other message(s))", n - 1),
            };
            let _ = writeln!(
                out,
                "why: {name} {code} ×{total}: {} ×{}{more}",
                top.message, top.count
            );
        }
    }
    out
}

/// Spans lost between the exporters and the collectors: the traces (in the
/// run folder, or at `--otlp-endpoint`) lack them, so `trace` reads a part.
fn lost_spans(s: &Summary) -> String {
    let Some(t) = &s.traces else {
        return String::new();
    };
    if t.spans_dropped == 0 {
        return String::new();
    }
    let recorded = t.spans_recorded.max(t.spans_dropped);
    match &t.otlp_endpoint {
        // The run's own collector took every span: only the outside one missed some.
        Some(e) if t.file && t.spans_received >= t.spans_recorded => format!(
            "warning: the OTLP endpoint {e} did not take {} of {recorded} spans (exports that failed or were refused); the run folder's traces have them all\n",
            t.spans_dropped
        ),
        _ => format!(
            "warning: {} of {recorded} spans were lost on the way (an exporter's full queue, a failed export, or a collector turning them away); the traces miss those hops\n",
            t.spans_dropped
        ),
    }
}

/// The faults as they ran, restarts, and replicas that were dead at the end.
fn fleet_notes(s: &Summary) -> String {
    let mut out = String::new();
    if !s.faults.is_empty() {
        let mut rows = vec![row(&["fault", "target", "applied s", "cleared s"])];
        for f in &s.faults {
            let t = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.2}"));
            rows.push(vec![
                f.fault.clone(),
                f.target.clone(),
                t(f.applied_s),
                t(f.cleared_s),
            ]);
        }
        out.push('\n');
        out.push_str(&align(&rows));
    }
    for (name, svc) in &s.services {
        if svc.restarts > 0 {
            let _ = writeln!(out, "{name}: {} restart(s)", svc.restarts);
        }
        for &i in &svc.unreachable {
            let _ = match svc.lost.iter().find(|l| l.replica == i) {
                Some(l) => writeln!(
                    out,
                    "{name}#{i} {}: its row counts what it served up to its last sample{}{}; the rest died with it (its callers' `calls` still count what they sent it)",
                    l.ended,
                    if l.endpoint.is_some() {
                        ""
                    } else {
                        ", every endpoint together"
                    },
                    match l.unended {
                        0 => String::new(),
                        n => format!(", {n} of them still in hand then"),
                    }
                ),
                None => writeln!(
                    out,
                    "{name}#{i} dead at the end: its own figures are lost (its callers' `calls` still count it)"
                ),
            };
        }
    }
    out
}

/// A row of cells from string slices.
pub(crate) fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// A latency of OK requests; `-` when there were none (a zero would read as
/// measured).
fn ok_ms(ok: u64, x: f64) -> String {
    if ok == 0 { "-".into() } else { ms(x) }
}

/// Left-aligns the first column, right-aligns the numbers.
pub(crate) fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            let w = widths[c];
            if c == 0 || (c == 1 && cell.contains('/')) {
                let _ = write!(out, "{cell:<w$}  ");
            } else {
                let _ = write!(out, "{cell:>w$}  ");
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use topolab_results::summary::{LoadSummary, Percentiles, TraceSummary};

    use super::*;

    fn summary(load: &[(&str, LoadSummary)]) -> Summary {
        Summary {
            topology: "t".into(),
            seed: 1,
            duration_s: 1.0,
            load_s: None,
            interrupted: false,
            processes: 1,
            healthy_after_ms: 1.0,
            load: load
                .iter()
                .map(|(n, l)| (n.to_string(), l.clone()))
                .collect(),
            services: Default::default(),
            traces: None,
            cascade: Default::default(),
            faults: Vec::new(),
            restart_log: Vec::new(),
            actions: Vec::new(),
            warmup: None,
            work_timing: None,
            links: Default::default(),
            prediction: None,
        }
    }

    /// A generator of `sent` requests, `over_1ms` of them late, whose
    /// lateness p99 is `late_p99` ms against a latency p99 of `p99` ms.
    fn late(sent: u64, over_1ms: u64, late_p99: f64, p99: f64) -> LoadSummary {
        LoadSummary {
            sent,
            ok: sent,
            late_over_1ms: over_1ms,
            late_ms: Percentiles {
                p99: late_p99,
                max: late_p99,
                ..Default::default()
            },
            latency_ms: Percentiles {
                p50: p99 / 2.0,
                p99,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn generators_keep_their_order_and_lateness_warns_only_when_it_moves_a_latency() {
        let s = summary(&[
            ("before", late(1000, 5, 0.4, 10.0)),
            ("during", late(1000, 200, 1.5, 40.0)),
            ("after", late(1000, 3, 4.0, 20.0)),
        ]);
        let text = render(&s);
        let at = |w: &str| text.find(w).unwrap_or_else(|| panic!("{w}: {text}"));
        assert!(at("\nbefore") < at("\nduring") && at("\nduring") < at("\nafter"));
        assert_eq!(
            text.matches("warning: sent late").count(),
            1,
            "said once: {text}"
        );
        assert!(!text.contains("`before`:"), "p99 0.4 ms: {text}");
        assert!(!text.contains("`during`:"), "1.5 ms of a 40 ms p99: {text}");
        assert!(
            text.contains("`after`: 3 of 1000") && text.contains("4.00 ms at p99 (of 20.0 ms)"),
            "4 ms of a 20 ms p99, said with both: {text}"
        );
        assert!(text.contains("late>1ms"));
    }

    /// The diner on an ordinary run: 1 request of 62 left 1.31 ms late, its
    /// p99 2,900 ms. One quiet line, no warning, no extra column.
    #[test]
    fn a_straggler_that_moves_no_figure_gets_one_quiet_line() {
        let s = summary(&[
            ("regulars", late(62, 1, 1.31, 2900.0)),
            ("lunch-rush", late(41, 2, 3.01, 2685.0)),
        ]);
        let text = render(&s);
        assert!(!text.contains("warning"), "{text}");
        assert!(!text.contains("late>1ms"), "{text}");
        assert_eq!(
            text.matches("sent late").count(),
            1,
            "one quiet line: {text}"
        );
        assert!(
            text.contains("sent late: 3 of 103 requests left over 1 ms after they were due (at most 3.01 ms), too little to move a figure"),
            "{text}"
        );
        let calm = render(&summary(&[("before", late(1000, 0, 0.4, 10.0))]));
        assert!(!calm.contains("late"), "{calm}");
    }

    /// One endpoint whose mean work is `work` ms and p50 latency `p50` ms,
    /// on a run whose work ran `pct`% long.
    fn overran(work: f64, p50: f64, pct: f64) -> Summary {
        use topolab_results::machine::WorkTiming;
        use topolab_results::summary::{EndpointSummary, ServiceSummary};
        let mut s = summary(&[]);
        let mut svc = ServiceSummary::default();
        svc.endpoints.insert(
            "Cook".into(),
            EndpointSummary {
                requests: 10,
                ok: 10,
                work_ms: Percentiles {
                    mean: work,
                    ..Default::default()
                },
                latency_ms: Percentiles {
                    p50,
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        s.services.insert("kitchen".into(), svc);
        s.work_timing = WorkTiming::new(1_000_000, (pct * 10_000.0) as u64);
        s
    }

    /// "machine-bound: work ran 5.9% long" on the diner, whose cook's p50 is
    /// mostly queue: the machine's 11 ms do not move an 847 ms figure.
    #[test]
    fn work_that_ran_long_warns_only_when_it_moves_a_latency() {
        let diner = render(&overran(190.0, 847.0, 5.9));
        assert!(!diner.contains("warning"), "{diner}");
        assert!(
            diner.contains("machine-bound: work ran 5.9% long, about 10.6 ms of kitchen/Cook's p50 of 847 ms: too little to move a figure"),
            "{diner}"
        );
        let bound = render(&overran(10.0, 11.0, 23.4));
        assert!(
            bound.contains("warning: machine-bound: work ran 23.4% long")
                && bound.contains("about 1.90 ms of kitchen/Cook's p50 of 11.0 ms (17%)"),
            "{bound}"
        );
        let quiet = render(&overran(10.0, 11.0, 3.0));
        assert!(!quiet.contains("machine"), "{quiet}");
    }

    #[test]
    fn lost_spans_are_reported_once() {
        let mut s = summary(&[]);
        s.traces = Some(TraceSummary {
            spans_recorded: 100,
            spans_dropped: 7,
            ..Default::default()
        });
        let text = render(&s);
        assert_eq!(
            text.matches("7 of 100 spans were lost").count(),
            1,
            "{text}"
        );
        s.traces = Some(TraceSummary {
            spans_recorded: 100,
            spans_received: 100,
            spans_dropped: 7,
            file: true,
            otlp_endpoint: Some("http://127.0.0.1:4317".into()),
            ..Default::default()
        });
        let text = render(&s);
        assert!(
            text.contains("the OTLP endpoint http://127.0.0.1:4317 did not take 7 of 100 spans"),
            "{text}"
        );
        s.traces = Some(TraceSummary::default());
        assert!(!render(&s).contains("lost"));
    }
}
