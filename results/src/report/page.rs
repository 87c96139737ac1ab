//! The page itself: header and files, the cascade in words, the topology,
//! the load over time, each service's queue over time, the per-hop split and
//! a sweep's curve, each section saying plainly what is missing when its file
//! is absent.

use std::fmt::Write;

use super::charts::{self, Mark};
use super::graph_svg;
use crate::cascade::{self, Cascade};
use crate::run_dir::RunDir;
use crate::timeseries;

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 920px; color: #222; }
h1 { margin-bottom: 0; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; }
.muted { color: #666; } .missing { color: #8a5a00; background: #fff7e0; padding: 6px 10px; border-radius: 4px; }
.cascade { font-size: 1.1em; padding: 10px 14px; border-left: 5px solid #d62d2d; background: #fdf1f1; }
.cascade.none { border-color: #289646; background: #f0f9f2; }
.chart svg, svg.graph { max-width: 100%; height: auto; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; text-align: right; } th:first-child, td:first-child { text-align: left; }
.bar { display: inline-block; height: 12px; vertical-align: middle; }
.key span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }
"#;

/// Escapes text for HTML and SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole HTML page.
pub fn render(run: &RunDir) -> anyhow::Result<String> {
    let t = &run.topology;
    let per_service = run.timeseries.as_deref().map(timeseries::by_service);
    let cascade: Cascade = match &per_service {
        Some(s) => cascade::analyze(t, s),
        None => run
            .summary
            .as_ref()
            .map(|s| s.cascade.clone())
            .unwrap_or_default(),
    };
    let t_max = t_max(run);
    let marks: Vec<Mark> = cascade
        .onsets
        .iter()
        .map(|o| Mark {
            t_s: o.t_s,
            label: format!(" {} {:.1}s", o.service, o.t_s),
        })
        .collect();

    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>topolab report: {}</title><style>{STYLE}</style></head><body>",
        escape(&t.name)
    );
    let _ = write!(h, "<h1>{}</h1>", escape(&t.name));
    if let Some(d) = &t.description {
        let _ = write!(h, "<p>{}</p>", escape(d));
    }
    if let Some(s) = &run.summary {
        let _ = write!(
            h,
            "<p class=\"muted\">seed {} · {} s of load and drain · {} process(es){}</p>",
            s.seed,
            s.duration_s,
            s.processes,
            if s.interrupted { " · interrupted" } else { "" }
        );
    }
    for (file, why) in &run.missing {
        let _ = write!(
            h,
            "<p class=\"missing\">{} is missing ({}): its part of the report is left out.</p>",
            escape(file),
            escape(why)
        );
    }

    h.push_str("<h2>Cascade</h2>");
    let _ = write!(
        h,
        "<p class=\"cascade{}\" id=\"cascade\">{}</p><p class=\"muted\">Rule: {}.</p>",
        if cascade.detected { "" } else { " none" },
        escape(if cascade.text.is_empty() {
            "no telemetry: the cascade cannot be told"
        } else {
            &cascade.text
        }),
        escape(cascade::RULE)
    );

    h.push_str("<h2>Topology</h2>");
    h.push_str(&graph_svg::render(t, &cascade));

    h.push_str("<h2>Load over time</h2>");
    match &run.load {
        Some(rows) if !rows.is_empty() => {
            chart(&mut h, "load", charts::load(rows, t_max, &marks)?);
            chart(&mut h, "latency", charts::latency(rows, t_max, &marks)?);
        }
        _ => h.push_str("<p class=\"missing\">No load_timeseries.csv in this folder: the load over time cannot be drawn.</p>"),
    }

    h.push_str("<h2>Services over time</h2>");
    h.push_str("<p class=\"key\"><span style=\"background:#3478db\"></span>in flight (workers busy)<span style=\"background:#f2be24\"></span>queued<span style=\"background:#d62d2d\"></span>rejected per second (right axis)</p>");
    match &per_service {
        Some(series) => {
            for s in &t.services {
                let Some(ser) = series.get(&s.name) else {
                    continue;
                };
                let onset = cascade.onsets.iter().find(|o| o.service == s.name);
                let _ = write!(
                    h,
                    "<h3>{}</h3><p class=\"muted\">{} replica(s) × {} workers, queue {}{}</p>",
                    escape(&s.name),
                    s.replicas,
                    s.workers,
                    s.queue.map_or("unbounded".into(), |q| q.to_string()),
                    onset.map_or(String::new(), |o| match &o.waiting_on {
                        Some(c) => format!(" · queue built from {:.1}s, waiting on {}", o.t_s, escape(c)),
                        None => format!(" · saturated from {:.1}s", o.t_s),
                    })
                );
                chart(&mut h, &format!("service-{}", s.name), charts::service(ser, t_max, &marks)?);
            }
        }
        None => h.push_str("<p class=\"missing\">No timeseries.csv in this folder: queues over time cannot be drawn.</p>"),
    }

    h.push_str("<h2>Where the time went, per hop</h2>");
    match &run.hops {
        Some(hops) if !hops.is_empty() => hop_table(&mut h, hops),
        _ => h.push_str("<p class=\"missing\">No traces.json with server spans in this folder: the per-hop split cannot be shown.</p>"),
    }

    if let Some(sweep) = &run.sweep {
        h.push_str("<h2>Sweep</h2>");
        let goal = sweep.meta.as_ref().and_then(|m| m.goal_p99_ms);
        chart(
            &mut h,
            "sweep",
            super::sweep_chart::svg(&sweep.rows, sweep.knee(), goal.unwrap_or(f64::INFINITY))?,
        );
    }
    h.push_str("<p class=\"muted\">Written by topolab report.</p></body></html>\n");
    Ok(h)
}

fn chart(h: &mut String, id: &str, svg: String) {
    let _ = write!(
        h,
        "<div class=\"chart\" id=\"chart-{}\">{svg}</div>",
        escape(id)
    );
}

/// The end of the time axis: the latest sample of either series.
fn t_max(run: &RunDir) -> f64 {
    let a = run
        .timeseries
        .iter()
        .flatten()
        .map(|r| r.t_s)
        .fold(0.0, f64::max);
    let b = run.load.iter().flatten().map(|r| r.t_s).fold(0.0, f64::max);
    a.max(b).max(0.1)
}

fn hop_table(h: &mut String, hops: &std::collections::BTreeMap<String, crate::hops::HopSplit>) {
    let max = hops
        .values()
        .map(|s| s.queue_ms + s.work_ms + s.downstream_ms + s.other_ms)
        .fold(0.0, f64::max)
        .max(1e-9);
    h.push_str("<p class=\"key\"><span style=\"background:#f2be24\"></span>queue wait<span style=\"background:#3478db\"></span>work<span style=\"background:#9aa\"></span>waiting on calls<span style=\"background:#ccc\"></span>other</p><table><tr><th>service</th><th>spans</th><th>queue ms</th><th>work ms</th><th>calls ms</th><th>other ms</th><th></th></tr>");
    for (svc, s) in hops {
        let px = |v: f64| (v / max * 320.0).round();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td style=\"text-align:left\"><span class=\"bar\" style=\"width:{}px;background:#f2be24\"></span><span class=\"bar\" style=\"width:{}px;background:#3478db\"></span><span class=\"bar\" style=\"width:{}px;background:#9aa\"></span><span class=\"bar\" style=\"width:{}px;background:#ccc\"></span></td></tr>",
            escape(svc),
            s.spans,
            s.queue_ms,
            s.work_ms,
            s.downstream_ms,
            s.other_ms,
            px(s.queue_ms),
            px(s.work_ms),
            px(s.downstream_ms),
            px(s.other_ms)
        );
    }
    h.push_str("</table>");
}
