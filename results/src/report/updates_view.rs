//! The report's part on data that changes (`updates`): how stale each
//! following generator's clients were over time (from
//! `updates_timeseries.csv`), and what it cost each service that changes:
//! requests per second, long polls held and streams open over time (from
//! `timeseries.csv`), beside the figures of `summary.json`.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::charts::{self, BLUE, Frame, GREY, Rate, YELLOW, css, generator_colour};
use super::page::{chart, key};
use crate::run_dir::RunDir;
use crate::timeseries::ServiceSeries;
use crate::updates;

/// The section, or `None` when nothing in the run follows updates.
pub fn section(
    run: &RunDir,
    per_service: Option<&BTreeMap<String, ServiceSeries>>,
    frame: Frame,
) -> anyhow::Result<Option<Markup>> {
    let t = &run.topology;
    let following: Vec<(usize, &str)> = t
        .load
        .iter()
        .enumerate()
        .filter(|(_, g)| g.follow.is_some())
        .map(|(i, g)| (i, g.name.as_str()))
        .collect();
    let changing: Vec<&str> = t
        .services
        .iter()
        .filter(|s| s.updates.is_some())
        .map(|s| s.name.as_str())
        .collect();
    if following.is_empty() && changing.is_empty() {
        return Ok(None);
    }
    let every = t.settings.sample_every.as_secs_f64();
    let staleness = match updates::read(&run.path)? {
        Some(rows) => {
            let gens: Vec<charts::Percentiles> = following
                .iter()
                .map(|(i, name)| charts::Percentiles {
                    colour: generator_colour(*i),
                    points: rows
                        .get(*name)
                        .into_iter()
                        .flatten()
                        .filter_map(|r| Some((r.t_s, r.staleness_mean_ms?, r.staleness_max_ms?)))
                        .collect(),
                })
                .collect();
            let gen_key: Vec<(&str, String, &str)> = following
                .iter()
                .map(|(i, name)| ("line", css(generator_colour(*i)), *name))
                .collect();
            html! {
                p.caption { "How stale the versions were when clients received them, per generator: mean thin, max thick, per " (format!("{:.0} ms", every * 1e3)) " interval (from updates_timeseries.csv). Polling sits near half its interval; long polls and streams near one request's latency." }
                (key(&gen_key))
                (chart("staleness", charts::percentile_lines(&gens, every, frame, "staleness, ms"))?)
            }
        }
        None => {
            html! { p.missing { "No updates_timeseries.csv in this folder: staleness over time cannot be drawn." } }
        }
    };
    let mut costs = Vec::new();
    for name in &changing {
        let Some(s) = per_service.and_then(|p| p.get(*name)) else {
            continue;
        };
        let pts = |v: &[u64]| -> Vec<(f64, f64)> {
            s.t_s.iter().zip(v).map(|(t, y)| (*t, *y as f64)).collect()
        };
        let bin = every.max(1.0);
        let rates = [
            Rate {
                name: "requests / s",
                colour: GREY,
                binned: charts::rebin(&pts(&s.arrived), bin, frame.t_max),
            },
            Rate {
                name: "pushed / s",
                colour: charts::GREEN,
                binned: charts::rebin(&pts(&s.pushed), bin, frame.t_max),
            },
        ];
        let levels = [
            Rate {
                name: "long polls held",
                colour: YELLOW,
                binned: pts(&s.held),
            },
            Rate {
                name: "streams open",
                colour: BLUE,
                binned: pts(&s.streams),
            },
        ];
        costs.push(html! {
            h3 { (name) }
            (key(&[("line", css(GREY), "requests / s"), ("line", css(charts::GREEN), "messages pushed / s")]))
            (chart(&format!("updates-rate-{name}"), charts::lines(&rates, bin, frame, "per second"))?)
            (key(&[("line", css(YELLOW), "long polls held"), ("line", css(BLUE), "streams open")]))
            (chart(&format!("updates-open-{name}"), charts::lines(&levels, every, frame, "open at once"))?)
        });
    }
    Ok(Some(html! {
        (staleness)
        @if !changing.is_empty() {
            p.caption { "What following cost each service whose data changes: requests and pushed messages per second (per 1 s bin), and the requests held and streams open at every sample, its replicas together (from timeseries.csv)." }
            @for c in &costs { (c) }
        }
    }))
}
