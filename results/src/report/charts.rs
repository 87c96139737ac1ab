//! The report's charts, drawn with plotters' SVG backend: a service's queue
//! over time (in flight blue, queued yellow stacked on it, rejections red),
//! the load over time, and latency percentiles over time.
//! Cascade onsets are marked on the time charts as dashed vertical lines.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::load_series::LoadRow;
use crate::timeseries::ServiceSeries;

/// In flight, queued and rejected, the colours learners know from queueing
/// diagrams.
pub const BLUE: RGBColor = RGBColor(52, 120, 219);
pub const YELLOW: RGBColor = RGBColor(242, 190, 36);
pub const RED: RGBColor = RGBColor(214, 45, 45);
const GREEN: RGBColor = RGBColor(40, 150, 70);
const GREY: RGBColor = RGBColor(110, 110, 110);
const PURPLE: RGBColor = RGBColor(130, 60, 170);

const W: u32 = 860;
const H: u32 = 260;

/// A vertical marker: where, and what it says.
pub struct Mark {
    pub t_s: f64,
    pub label: String,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e:?}")
}

/// Renders `draw` onto a fresh SVG of `w × h`.
fn svg(w: u32, h: u32, draw: impl FnOnce(&Area) -> anyhow::Result<()>) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// One service: workers busy and requests queued (stacked), and rejections
/// per second on the right-hand axis.
pub fn service(s: &ServiceSeries, t_max: f64, marks: &[Mark]) -> anyhow::Result<String> {
    let step = interval(&s.t_s);
    let stacked: Vec<u64> = s
        .in_flight
        .iter()
        .zip(&s.queue)
        .map(|(a, b)| a + b)
        .collect();
    let y_max = (stacked.iter().copied().max().unwrap_or(0) as f64 * 1.15).max(2.0);
    let rej: Vec<f64> = s.rejected.iter().map(|r| *r as f64 / step).collect();
    let rej_max = rej.iter().copied().fold(0.0, f64::max).max(1.0) * 1.15;
    svg(W, H, |root| {
        let mut c = ChartBuilder::on(root)
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .right_y_label_area_size(52)
            .build_cartesian_2d(0.0..t_max, 0.0..y_max)
            .map_err(err)?
            .set_secondary_coord(0.0..t_max, 0.0..rej_max);
        c.configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .x_desc("seconds from the start of load")
            .y_desc("requests")
            .draw()
            .map_err(err)?;
        c.configure_secondary_axes()
            .y_desc("rejected / s")
            .draw()
            .map_err(err)?;
        let pts = |v: &[u64]| -> Vec<(f64, f64)> {
            s.t_s.iter().zip(v).map(|(t, y)| (*t, *y as f64)).collect()
        };
        c.draw_series(AreaSeries::new(pts(&stacked), 0.0, YELLOW.mix(0.85)))
            .map_err(err)?
            .label("queued")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], YELLOW.filled()));
        c.draw_series(AreaSeries::new(pts(&s.in_flight), 0.0, BLUE.mix(0.85)))
            .map_err(err)?
            .label("in flight")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLUE.filled()));
        c.draw_secondary_series(LineSeries::new(
            s.t_s.iter().zip(&rej).map(|(t, r)| (*t, *r)),
            RED.stroke_width(2),
        ))
        .map_err(err)?
        .label("rejected / s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], RED.stroke_width(2)));
        marks_on(&mut c, marks, y_max)?;
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(GREY)
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// The load over time, every generator added up: sent, OK, rejected, and
/// timeouts plus errors, per second.
pub fn load(rows: &[LoadRow], t_max: f64, marks: &[Mark]) -> anyhow::Result<String> {
    let mut by_t: BTreeMap<i64, [u64; 4]> = BTreeMap::new();
    for r in rows {
        let e = by_t.entry((r.t_s * 1e6).round() as i64).or_default();
        e[0] += r.sent;
        e[1] += r.ok;
        e[2] += r.rejected;
        e[3] += r.timeouts + r.errors;
    }
    let ts: Vec<f64> = by_t.keys().map(|k| *k as f64 / 1e6).collect();
    let step = interval(&ts);
    let series: Vec<Vec<(f64, f64)>> = (0..4)
        .map(|k| {
            by_t.iter()
                .map(|(t, v)| (*t as f64 / 1e6, v[k] as f64 / step))
                .collect()
        })
        .collect();
    let y_max = series
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    svg(W, H, |root| {
        let mut c = chart(root, t_max, y_max, "requests / s")?;
        for (k, (name, color)) in [
            ("sent", GREY),
            ("ok", GREEN),
            ("rejected", RED),
            ("timeouts + errors", PURPLE),
        ]
        .into_iter()
        .enumerate()
        {
            c.draw_series(LineSeries::new(series[k].clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
        }
        marks_on(&mut c, marks, y_max)?;
        legend(&mut c)
    })
}

/// Latency percentiles over time, per generator (intervals without an OK
/// response leave a gap).
pub fn latency(rows: &[LoadRow], t_max: f64, marks: &[Mark]) -> anyhow::Result<String> {
    let mut gens: BTreeMap<&str, Vec<&LoadRow>> = BTreeMap::new();
    for r in rows {
        gens.entry(&r.generator).or_default().push(r);
    }
    let y_max = rows
        .iter()
        .filter_map(|r| r.p99_ms)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    svg(W, H, |root| {
        let mut c = chart(root, t_max, y_max, "latency, ms")?;
        let palette = [BLUE, GREEN, PURPLE, GREY];
        for (i, (g, rows)) in gens.iter().enumerate() {
            let color = palette[i % palette.len()];
            for (q, width, pick) in [
                (
                    "p50",
                    1,
                    (|r: &LoadRow| r.p50_ms) as fn(&LoadRow) -> Option<f64>,
                ),
                ("p99", 3, |r: &LoadRow| r.p99_ms),
            ] {
                for (j, run) in runs(rows, pick).into_iter().enumerate() {
                    let s = c
                        .draw_series(LineSeries::new(run, color.stroke_width(width)))
                        .map_err(err)?;
                    if j == 0 {
                        s.label(format!("{g} {q}")).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(width))
                        });
                    }
                }
            }
        }
        marks_on(&mut c, marks, y_max)?;
        legend(&mut c)
    })
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn chart<'a, 'b>(
    root: &'a Area<'b>,
    t_max: f64,
    y_max: f64,
    y_desc: &str,
) -> anyhow::Result<Chart<'a, 'b>> {
    let mut c = ChartBuilder::on(root)
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)
        .map_err(err)?;
    c.configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc("seconds from the start of load")
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    Ok(c)
}

fn legend<'a, 'b: 'a>(c: &mut Chart<'a, 'b>) -> anyhow::Result<()> {
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(GREY)
        .draw()
        .map_err(err)
}

/// Dashed vertical lines with their label at the top.
fn marks_on<'a, 'b: 'a>(c: &mut Chart<'a, 'b>, marks: &[Mark], y_max: f64) -> anyhow::Result<()> {
    for (i, m) in marks.iter().enumerate() {
        c.draw_series(DashedLineSeries::new(
            [(m.t_s, 0.0), (m.t_s, y_max)],
            6,
            4,
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        c.draw_series(std::iter::once(Text::new(
            m.label.clone(),
            // Staggered: onsets are often close together.
            (m.t_s, y_max * (0.97 - 0.09 * i as f64)),
            ("sans-serif", 12).into_font().color(&BLACK),
        )))
        .map_err(err)?;
    }
    Ok(())
}

/// Unbroken runs of present values, so gaps stay gaps.
fn runs(rows: &[&LoadRow], pick: fn(&LoadRow) -> Option<f64>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for r in rows {
        match pick(r) {
            Some(v) => out.last_mut().map(|run| run.push((r.t_s, v))).unwrap_or(()),
            None if out.last().is_some_and(|r| !r.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// The sampling interval of a series (its first gap), 0.1 s when unknown.
fn interval(t: &[f64]) -> f64 {
    match t {
        [a, b, ..] if b > a => b - a,
        [a] if *a > 0.0 => *a,
        _ => 0.1,
    }
}
