//! The report's time on the wire per link over time, on a modelled network:
//! each link's p50 (thin) and p99 (thick) per second, with the faults in
//! force shaded as on every time chart, so a link fault shows on exactly
//! the link it names.

use maud::{Markup, html};

use super::charts::{self, Frame, Percentiles, css, generator_colour};
use super::page::{chart, key};
use crate::run_dir::RunDir;

/// The section, or nothing on loopback (or without traces to place in time).
pub fn section(run: &RunDir, frame: Frame) -> anyhow::Result<Option<Markup>> {
    let Some(wire) = run.wire.as_ref().filter(|w| !w.is_empty()) else {
        return Ok(None);
    };
    let lines: Vec<Percentiles> = wire
        .values()
        .enumerate()
        .map(|(i, points)| Percentiles {
            colour: generator_colour(i),
            points: points.clone(),
        })
        .collect();
    let names: Vec<(&str, String, &str)> = wire
        .keys()
        .enumerate()
        .map(|(i, name)| ("line", css(generator_colour(i)), name.as_str()))
        .collect();
    Ok(Some(html! {
        h2 { "Time on the wire, per link" }
        p.caption { "Per link between services, its calls' time on the wire (a caller's CLIENT span less its callee's SERVER span): p50 thin, p99 thick, per second. See docs/network.md." }
        (key(&names))
        (chart("wire", charts::percentile_lines(&lines, 1.0, frame, "wire, ms"))?)
    }))
}
