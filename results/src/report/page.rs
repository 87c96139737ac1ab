//! The run report's page, built with maud (every text it quotes is escaped):
//! the cascade in words, each request as a dot, the topology, the load over
//! time, the faults and their effect, each service over time, the summary
//! tables, the per-hop split and a sweep's curve. Each section whose file is
//! absent says so plainly.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::charts::{self, Frame, GREEN, GREY, PURPLE, RED, Rate, css, generator_colour};
use super::timeline::{self, Overlay};
use super::{
    chain_view, faults, graph_svg, requests_view, sweep_chart, tables, updates_view, versus_view,
    wire_view,
};
use crate::cascade::{self, Cascade};
use crate::hops::HopSplit;
use crate::requests::PER_GENERATOR;
use crate::run_dir::RunDir;
use crate::timeseries::ServiceSeries;
use crate::units::ms;

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 960px; color: #222; }
h1 { margin-bottom: 0; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; }
.muted { color: #666; } .missing { color: #8a5a00; background: #fff7e0; padding: 6px 10px; border-radius: 4px; }
.cascade { font-size: 1.1em; padding: 10px 14px; border-left: 5px solid #d62d2d; background: #fdf1f1; }
.cascade.none { border-color: #289646; background: #f0f9f2; }
.chart svg, svg.graph { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 8px; text-align: right; border-bottom: 1px solid #eee; }
th:first-child, td:first-child { text-align: left; white-space: nowrap; } th { font-weight: 600; background: #f6f6f6; }
table.figures, table.faults { font-size: 0.9em; } table.figures td { white-space: nowrap; }
.bar { display: inline-block; height: 12px; vertical-align: middle; }
.key { margin: 4px 0; font-size: 0.9em; }
.key span.k { display: inline-block; width: 14px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }
.key span.k:first-child { margin-left: 0; }
.key span.line { height: 3px; } .key span.dot { border-radius: 7px; width: 10px; height: 10px; }
.key span.dash { height: 0; border-top: 2px dashed #000; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.caption { font-size: 0.9em; color: #444; margin: 2px 0 0; }
.prediction { font-size: 1.05em; padding: 10px 14px; border-left: 5px solid #7a4fd0; background: #f3effc; }
"#;

/// One entry of a chart's key: a swatch drawn as `shape` in `colour`.
pub(super) fn key(items: &[(&str, String, &str)]) -> Markup {
    html! {
        p.key {
            @for (shape, colour, label) in items {
                span class={ "k " (shape) } style={ @if *shape == "dash" { "border-color:" (colour) } @else { "background:" (colour) } } {}
                (label)
            }
        }
    }
}

/// The overlay's key: only what the charts carry.
fn overlay_key(o: &Overlay) -> Markup {
    let mut items: Vec<(&str, String, &str)> = Vec::new();
    if !o.windows.is_empty() {
        items.push(("", "rgba(255,150,60,0.35)".into(), "fault in force"));
    }
    let has = |k| o.marks.iter().any(|m| m.kind == k);
    if has(timeline::MarkKind::Kill) {
        items.push(("line", css(RED), "kill"));
    }
    if has(timeline::MarkKind::Restart) {
        items.push(("line", css(GREEN), "restart"));
    }
    if has(timeline::MarkKind::Action) {
        items.push(("dash", css(charts::BLUE), "a change made from the lab"));
    }
    if has(timeline::MarkKind::Onset) {
        items.push((
            "dash",
            "#000".into(),
            "onset: a queue built up or workers held",
        ));
    }
    if items.is_empty() {
        html! {}
    } else {
        key(&items)
    }
}

pub(super) fn chart(id: &str, svg: anyhow::Result<String>) -> anyhow::Result<Markup> {
    Ok(html! { div.chart id={ "chart-" (id) } { (PreEscaped(svg?)) } })
}

/// The whole HTML page.
pub fn render(run: &RunDir) -> anyhow::Result<String> {
    let t = &run.topology;
    let per_service = run.timeseries.as_ref();
    let cascade: Cascade = match per_service {
        Some(s) => cascade::analyze(t, s),
        None => run
            .summary
            .as_ref()
            .map(|s| s.cascade.clone())
            .unwrap_or_default(),
    };
    let t_max = t_max(run);
    let overlay = Overlay::of(run.summary.as_ref(), &cascade, t_max);
    let frame = Frame {
        t_max,
        overlay: &overlay,
    };
    let every = t.settings.sample_every.as_secs_f64();
    let sent: u64 = run.load.iter().flatten().map(|r| r.sent).sum();
    let bin = timeline::bin_width(every, sent, t_max);

    let predicted = run.summary.as_ref().and_then(|s| s.prediction.as_ref());
    let wire = wire_view::section(run, frame)?;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width";
                title { @if predicted.is_some() { "topolab prediction: " } @else { "topolab report: " } (t.name) }
                style { (PreEscaped(STYLE)) (PreEscaped(chain_view::STYLE)) }
            }
            body {
                h1 { @if predicted.is_some() { "Prediction: " } (t.name) }
                @if let Some(p) = predicted {
                    p.prediction {
                        b { "A prediction, not a run:" } " no process started; every figure below comes from the simulator, "
                        "with a hop cost of " (format!("{:.3}", p.hop_cost_ms)) " ms and " (format!("{:.3}", p.work_overhead_ms)) " ms added to each work step (" (p.hop_cost_source) "), "
                        (p.events) " events simulated in " (format!("{:.2}", p.wall_s)) " s."
                        @if !p.not_modelled.is_empty() { " Not modelled: payload sizes (" (p.not_modelled.join(", ")) ")." }
                    }
                }
                @if let Some(d) = &t.description { p { (d) } }
                @if let Some(s) = &run.summary {
                    p.muted {
                        "seed " (s.seed) " · " (s.time_in_words()) " · " (s.processes) " process(es)"
                        @if s.interrupted { " · interrupted" }
                    }
                }
                @for (file, why) in &run.missing {
                    p.missing { (file) " is missing (" (why) "): its part of the report is left out." }
                }
                h2 { "Cascade" }
                p #cascade class={ "cascade" @if !cascade.detected { " none" } } {
                    @if cascade.text.is_empty() { "no telemetry: the cascade cannot be told" } @else { (cascade.text) }
                }
                details.muted { summary { "The rule" } p { (cascade::RULE) "." } }

                h2 { "Each request" }
                (requests_section(run, frame)?)

                h2 { "Topology" }
                (graph_svg::render(t, &cascade))
                p.key {
                    @if cascade.detected {
                        span.k style="background:#f6c1c1" {} "saturated or slow: where the cascade started"
                        span.k style="background:#fbe6a6" {} "waiting on a callee (queue built or workers held)"
                    } @else if !cascade.onsets.is_empty() {
                        span.k style="background:#f6c1c1" {} "saturated: nothing waits on it (no cascade)"
                    }
                    span.k.dash style="border-color:#555" {} "a call made on a session miss"
                }

                h2 { "Load over time" }
                (load_section(run, bin, frame)?)

                @if let Some(s) = &run.summary {
                    @if let Some(section) = faults::section(s, run.requests.as_deref(), run.load.as_deref(), per_service, every, t_max) {
                        h2 #faults-and-restarts { "Faults and restarts" }
                        (section)
                    }
                }

                h2 { "Services over time" }
                (services_section(run, per_service, &cascade, bin, frame)?)

                @if let Some(section) = updates_view::section(run, per_service, frame)? {
                    h2 #updates { "Updates: staleness and what it cost" }
                    (section)
                }

                @if let Some(section) = versus_view::section(run) {
                    h2 #predicted-vs-measured { "Predicted vs measured" }
                    (section)
                }

                h2 { "Figures" }
                @match &run.summary {
                    Some(s) => {
                        h3 { "The load, as the askers saw it" }
                        (tables::load(t, s))
                        h3 { "Every endpoint, as the answerers saw it" }
                        (tables::endpoints(t, s))
                        @if let Some(c) = tables::calls(t, s) { h3 { "Calls, by caller and callee" } (c) }
                        @if let Some(r) = tables::replicas(t, s) { h3 { "Per replica" } (r) }
                        @if let Some(l) = tables::links(s) {
                            h3 { "Links: time on the wire" }
                            (l)
                            p.muted { "A caller's CLIENT span less its callee's SERVER span, both ways; see docs/network.md." }
                        }
                    }
                    None => p.missing { "No summary.json in this folder: the figures cannot be shown." },
                }

                @if let Some(w) = wire { (w) }

                h2 { "Where the time went, per hop" }
                @match &run.hops {
                    Some(hops) if !hops.is_empty() => (hop_table(t, hops)),
                    _ => p.missing { "No traces with server spans in this folder: the per-hop split cannot be shown." },
                }

                @if let Some(sweep) = &run.sweep {
                    h2 { "Sweep" }
                    @let goal = sweep.meta.as_ref().and_then(|m| m.goal_p99_ms).unwrap_or(f64::INFINITY);
                    @let capacity = sweep.meta.as_ref().and_then(|m| m.predicted.as_ref()).and_then(|p| p.capacity_per_s);
                    (chart("sweep", sweep_chart::svg(&sweep.rows, sweep.knee(), goal, capacity))?)
                }
                p.muted { "Written by topolab report." }
            }
        }
    };
    Ok(page.into_string())
}

fn requests_section(run: &RunDir, frame: Frame) -> anyhow::Result<Markup> {
    let Some(sample) = run.requests.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(
            html! { p.missing { "No requests.csv in this folder: the requests cannot be drawn one by one." } },
        );
    };
    let dots = requests_view::dots(sample, &run.queue_ms, &run.held_ms);
    let mut held: Vec<f64> = dots.iter().filter_map(|d| d.held_ms).collect();
    held.sort_by(f64::total_cmp);
    let sent: u64 = run
        .summary
        .as_ref()
        .map_or(0, |s| s.load.values().map(|l| l.sent).sum());
    let traced = !run.queue_ms.is_empty();
    Ok(html! {
        p.caption {
            "Each dot is a request, at the time it was due and its latency: "
            b style={ "color:" (css(charts::BLUE)) } { "blue" } " answered, mostly working; "
            b style="color:#c99a00" { "yellow" } " answered after waiting in queues for most of its latency (the yellow tail below a dot is the time it waited); "
            b style={ "color:" (css(RED)) } { "red" } " rejected (a queue was full); "
            b style={ "color:" (css(PURPLE)) } { "purple" } " timed out; "
            b style={ "color:" (css(GREY)) } { "grey" } " failed otherwise."
            @if !traced { " (No traces: how long each request queued is unknown, so OK requests are grey-blue.)" }
            @if let (Some(mid), Some(max)) = (held.get(held.len() / 2), held.last()) {
                " A " b { "ring" } " is a long poll the server held until the next version: "
                (held.len()) " of them, held " (ms(*mid)) " ms at the median and up to " (ms(*max))
                " ms. Holding is the protocol working, not a queue, so a ring sits at its latency without the hold, and its colour still says whether it queued."
            }
        }
        p.caption {
            @if sent as usize > sample.len() {
                "Showing " (dots.len()) " of " (sent) " requests: an evenly drawn sample (at most " (PER_GENERATOR) " per generator)."
            } @else if dots.len() < sample.len() {
                "Showing " (dots.len()) " of " (sample.len()) " requests, evenly thinned."
            } @else {
                "All " (dots.len()) " requests."
            }
        }
        (overlay_key(frame.overlay))
        (chart("requests", charts::requests(&dots, frame))?)
        (chain_view::section(&dots, sample, &run.chains, run.topology.settings.trace))
    })
}

fn load_section(run: &RunDir, bin: f64, frame: Frame) -> anyhow::Result<Markup> {
    let Some(rows) = run.load.as_deref().filter(|r| !r.is_empty()) else {
        return Ok(
            html! { p.missing { "No load_timeseries.csv in this folder: the load over time cannot be drawn." } },
        );
    };
    let mut by_t: BTreeMap<i64, [f64; 4]> = BTreeMap::new();
    for r in rows {
        let e = by_t.entry((r.t_s * 1e6).round() as i64).or_default();
        e[0] += r.sent as f64;
        e[1] += r.ok as f64;
        e[2] += r.rejected as f64;
        e[3] += (r.timeouts + r.errors) as f64;
    }
    let series = |k: usize| -> Vec<(f64, f64)> {
        let pts: Vec<(f64, f64)> = by_t.iter().map(|(t, v)| (*t as f64 / 1e6, v[k])).collect();
        charts::rebin(&pts, bin, frame.t_max)
    };
    let mut rates = vec![
        Rate {
            name: "sent",
            colour: GREY,
            binned: series(0),
        },
        Rate {
            name: "ok",
            colour: GREEN,
            binned: series(1),
        },
        Rate {
            name: "rejected",
            colour: RED,
            binned: series(2),
        },
        Rate {
            name: "timeouts + errors",
            colour: PURPLE,
            binned: series(3),
        },
    ];
    // Only the predicted twins of rates with something in them: a
    // prediction with nothing rejected draws no pale red line.
    rates.extend(
        versus_view::rate_overlay(run, bin, frame.t_max)
            .into_iter()
            .filter(|r| r.binned.iter().any(|p| p.1 > 0.0)),
    );
    let per_bin = rates[0].binned.iter().map(|p| p.1 * bin).sum::<f64>()
        / rates[0].binned.len().max(1) as f64;
    let t = &run.topology;
    // Percentiles from the sample of requests at the same bin; without it,
    // the file's own per-interval percentiles.
    let (gens, pct_bin, pct_source) = match run.requests.as_deref().filter(|s| !s.is_empty()) {
        Some(sample) => {
            let p = requests_view::percentiles(sample, bin);
            let gens: Vec<charts::Percentiles> = t
                .load
                .iter()
                .enumerate()
                .filter_map(|(i, g)| {
                    Some(charts::Percentiles {
                        colour: generator_colour(i),
                        points: p.get(g.name.as_str())?.clone(),
                    })
                })
                .collect();
            (
                gens,
                bin,
                "of the OK requests due in each bin (from requests.csv)",
            )
        }
        None => {
            let every = t.settings.sample_every.as_secs_f64();
            let gens = t
                .load
                .iter()
                .enumerate()
                .map(|(i, g)| charts::Percentiles {
                    colour: generator_colour(i),
                    points: rows
                        .iter()
                        .filter(|r| r.generator == g.name)
                        .filter_map(|r| Some((r.t_s, r.p50_ms?, r.p99_ms?)))
                        .collect(),
                })
                .collect();
            (
                gens,
                every,
                "of the OK requests that ended in each interval (from load_timeseries.csv)",
            )
        }
    };
    let rate_key: Vec<(&str, String, &str)> = rates
        .iter()
        .map(|r| ("line", css(r.colour), r.name))
        .collect();
    let overlay = versus_view::latency_overlay(run, pct_bin);
    let mut gen_key: Vec<(&str, String, &str)> = t
        .load
        .iter()
        .enumerate()
        .map(|(i, g)| ("line", css(generator_colour(i)), g.name.as_str()))
        .collect();
    gen_key.extend(
        overlay
            .iter()
            .map(|(p, name)| ("line", css(p.colour), name.as_str())),
    );
    let mut gens = gens;
    gens.extend(overlay.iter().map(|(p, _)| p.clone()));
    Ok(html! {
        p.caption { "Requests per second, every generator together, per " b { (timeline::name_width(bin)) } " bin (about " (format!("{per_bin:.0}")) " requests each; the bin is chosen to hold enough requests to mean something)." }
        (key(&rate_key))
        (overlay_key(frame.overlay))
        (chart("load", charts::load(&rates, bin, frame))?)
        p.caption { "Latency per generator: p50 thin, p99 thick, per " b { (timeline::name_width(pct_bin)) } " bin, " (pct_source) "." }
        (key(&gen_key))
        (chart("latency", charts::latency(&gens, pct_bin, frame))?)
    })
}

fn services_section(
    run: &RunDir,
    per_service: Option<&BTreeMap<String, ServiceSeries>>,
    cascade: &Cascade,
    bin: f64,
    frame: Frame,
) -> anyhow::Result<Markup> {
    let Some(series) = per_service else {
        return Ok(
            html! { p.missing { "No timeseries.csv in this folder: queues over time cannot be drawn." } },
        );
    };
    let every = run.topology.settings.sample_every.as_secs_f64();
    // A long run is read back with neighbouring samples merged (levels
    // averaged): the caption names the grain drawn, not the one sampled.
    let drawn = series
        .values()
        .filter_map(ServiceSeries::spacing)
        .fold(every, f64::max);
    let merged = drawn > every * 1.5;
    let mut parts = Vec::new();
    for s in &run.topology.services {
        let Some(ser) = series.get(&s.name) else {
            continue;
        };
        let onset = cascade.onsets.iter().find(|o| o.service == s.name);
        parts.push(html! {
            h3 { (s.name) }
            p.muted {
                (s.replicas) " replica(s) × " (s.workers) " workers, queue "
                (s.queue.map_or("unbounded".into(), |q| q.to_string()))
                @if let Some(o) = onset {
                    " · " (cascade::label(o))
                }
            }
            (chart(&format!("service-{}", s.name), charts::service(ser, bin, frame))?)
        });
    }
    Ok(html! {
        p.caption {
            @if merged {
                "Workers busy and requests queued, averaged per " (timeline::name_width(drawn)) " (" (format!("{:.0}", drawn / every)) " samples of " (timeline::name_width(every)) ": a long run is read at a coarser grain), and rejections per second per "
            } @else {
                "Workers busy and requests queued at every sample (" (timeline::name_width(every)) "), and rejections per second per "
            }
            (timeline::name_width(bin)) " bin on the right-hand axis."
        }
        (key(&[("", css(charts::BLUE), "in flight (workers busy)"), ("", css(charts::YELLOW), "queued"), ("line", css(RED), "rejected / s (right axis)")]))
        (overlay_key(frame.overlay))
        @for p in &parts { (p) }
    })
}

/// The end of the time axis: the latest sample of either series.
fn t_max(run: &RunDir) -> f64 {
    let a = run
        .timeseries
        .iter()
        .flat_map(|by_service| by_service.values())
        .filter_map(|s| s.t_s.last().copied())
        .fold(0.0, f64::max);
    let b = run.load.iter().flatten().map(|r| r.t_s).fold(0.0, f64::max);
    a.max(b).max(0.1)
}

fn hop_table(t: &topolab_model::Topology, hops: &BTreeMap<String, HopSplit>) -> Markup {
    let max = hops
        .values()
        .map(|s| s.queue_ms + s.work_ms + s.downstream_ms + s.other_ms)
        .fold(0.0, f64::max)
        .max(1e-9);
    let px = |v: f64| format!("width:{}px", (v / max * 320.0).round());
    let ordered: Vec<(&str, &HopSplit)> = t
        .services
        .iter()
        .filter_map(|s| Some((s.name.as_str(), hops.get(&s.name)?)))
        .collect();
    html! {
        (key(&[("", "#f2be24".into(), "queue wait"), ("", "#3478db".into(), "work"), ("", "#99aaaa".into(), "waiting on calls"), ("", "#cccccc".into(), "other")]))
        table {
            tr { th { "service" } th { "spans" } th { "queue ms" } th { "work ms" } th { "calls ms" } th { "other ms" } th {} }
            @for (svc, s) in ordered {
                tr {
                    td { (svc) } td { (s.spans) }
                    td { (format!("{:.2}", s.queue_ms)) } td { (format!("{:.2}", s.work_ms)) }
                    td { (format!("{:.2}", s.downstream_ms)) } td { (format!("{:.2}", s.other_ms)) }
                    td style="text-align:left" {
                        span.bar style={ (px(s.queue_ms)) ";background:#f2be24" } {}
                        span.bar style={ (px(s.work_ms)) ";background:#3478db" } {}
                        span.bar style={ (px(s.downstream_ms)) ";background:#99aaaa" } {}
                        span.bar style={ (px(s.other_ms)) ";background:#cccccc" } {}
                    }
                }
            }
        }
    }
}
