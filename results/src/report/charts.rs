//! The report's time charts, drawn with plotters' SVG backend: a service's
//! queue over time (in flight blue, queued yellow stacked on it, rejections
//! red), the load's rates and latency percentiles per bin, and one dot per
//! request. Every chart carries the same [`Overlay`]: fault windows shaded,
//! kills, restarts and cascade onsets as vertical lines, their labels in a
//! band above the data so they never cover it. Keys are drawn by the page,
//! outside the plot.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::timeline::{MarkKind, Overlay};
use crate::timeseries::ServiceSeries;

/// In flight, queued and rejected, the colours learners know from queueing
/// diagrams.
pub const BLUE: RGBColor = RGBColor(52, 120, 219);
pub const YELLOW: RGBColor = RGBColor(242, 190, 36);
pub const RED: RGBColor = RGBColor(214, 45, 45);
pub const GREEN: RGBColor = RGBColor(40, 150, 70);
pub const GREY: RGBColor = RGBColor(110, 110, 110);
pub const PURPLE: RGBColor = RGBColor(130, 60, 170);
/// Fault windows.
const SHADE: RGBColor = RGBColor(255, 150, 60);

/// Each generator its own colour, none of them blue, yellow or red (those
/// mean in flight, queued and rejected everywhere in the report).
pub const GENERATORS: [RGBColor; 8] = [
    RGBColor(0, 140, 130),
    RGBColor(130, 60, 170),
    RGBColor(225, 110, 0),
    RGBColor(120, 80, 40),
    RGBColor(200, 50, 140),
    RGBColor(110, 125, 20),
    RGBColor(60, 80, 120),
    RGBColor(40, 150, 70),
];

/// The colour of the `i`th generator in file order.
pub fn generator_colour(i: usize) -> RGBColor {
    GENERATORS[i % GENERATORS.len()]
}

/// `#rrggbb` of a colour, for the page's keys.
pub fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

const W: u32 = 900;
const H: u32 = 280;
/// Pixels of plot per label row above the data.
const LABEL_ROW_PX: f64 = 15.0;
const MAX_LABEL_ROWS: usize = 4;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

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

/// The x axis and data range of every time chart.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'o> {
    pub t_max: f64,
    pub overlay: &'o Overlay,
}

/// Which label row each label of the overlay goes in, so labels close in
/// time do not overlap; and how many rows that takes.
fn label_rows(frame: Frame, plot_px: f64) -> (Vec<(f64, String, usize)>, usize) {
    let px_per_s = plot_px / frame.t_max.max(1e-9);
    let mut ends = [f64::NEG_INFINITY; MAX_LABEL_ROWS];
    let mut out = Vec::new();
    for (t, label) in frame.overlay.labels() {
        let x = t * px_per_s;
        let width = label.chars().count() as f64 * 6.2 + 8.0;
        let row = (0..MAX_LABEL_ROWS)
            .find(|&r| ends[r] <= x)
            .unwrap_or_else(|| {
                (0..MAX_LABEL_ROWS)
                    .min_by(|&a, &b| ends[a].total_cmp(&ends[b]))
                    .unwrap_or(0)
            });
        ends[row] = x + width;
        out.push((t, label.to_string(), row));
    }
    let rows = out.iter().map(|l| l.2 + 1).max().unwrap_or(0);
    (out, rows)
}

/// A time chart with `y_max` of data, a band above it for the overlay's
/// labels, the fault windows shaded and the markers drawn. Returns the
/// chart and the top of the data range.
fn time_chart<'a, 'b>(
    root: &'a Area<'b>,
    frame: Frame,
    y_max: f64,
    y_desc: &str,
    right: Option<(f64, &str)>,
) -> anyhow::Result<(Chart<'a, 'b>, Option<Chart<'a, 'b>>)> {
    let right_px = if right.is_some() { 56 } else { 0 };
    let plot_h = f64::from(H) - 40.0 - 16.0;
    let plot_w = f64::from(W) - 56.0 - f64::from(right_px) - 16.0;
    let (labels, rows) = label_rows(frame, plot_w);
    let band = (rows as f64 * LABEL_ROW_PX) / plot_h;
    let top = y_max / (1.0 - band).max(0.3);
    let builder = || {
        let mut b = ChartBuilder::on(root);
        b.margin(8).x_label_area_size(34).y_label_area_size(56);
        if right.is_some() {
            b.right_y_label_area_size(right_px);
        }
        b
    };
    // The primary chart leaves the right-hand label area to the secondary
    // axis as a margin of the same width: the plot areas coincide, and the
    // primary labels are drawn on the left only.
    let mut c = ChartBuilder::on(root)
        .margin(8)
        .margin_right(8 + right_px)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..frame.t_max, 0.0..top)
        .map_err(err)?;
    c.configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc("seconds from the start of load")
        .y_desc(y_desc)
        .y_labels(6)
        .y_label_formatter(&|v| {
            if *v <= y_max * 1.0001 {
                trim(*v)
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(err)?;
    for w in &frame.overlay.windows {
        c.draw_series(std::iter::once(Rectangle::new(
            [(w.from_s, 0.0), (w.to_s, top)],
            SHADE.mix(0.18).filled(),
        )))
        .map_err(err)?;
    }
    for m in &frame.overlay.marks {
        let (colour, dashed) = match m.kind {
            MarkKind::Kill => (RED, false),
            MarkKind::Restart => (GREEN, false),
            MarkKind::Onset => (BLACK, true),
            MarkKind::Action => (BLUE, true),
        };
        let line = [(m.t_s, 0.0), (m.t_s, top)];
        if dashed {
            c.draw_series(DashedLineSeries::new(line, 6, 4, colour.stroke_width(1)))
                .map_err(err)?;
        } else {
            c.draw_series(LineSeries::new(line, colour.stroke_width(2)))
                .map_err(err)?;
        }
    }
    let row_h = top * LABEL_ROW_PX / plot_h;
    for (t, label, row) in labels {
        c.draw_series(std::iter::once(Text::new(
            label,
            (t, top - row_h * (row as f64 + 0.15)),
            ("sans-serif", 11).into_font().color(&BLACK),
        )))
        .map_err(err)?;
    }
    let secondary = match right {
        Some((r_max, desc)) => {
            let r_top = r_max / (1.0 - band).max(0.3);
            let mut c2 = builder()
                .build_cartesian_2d(0.0..frame.t_max, 0.0..top)
                .map_err(err)?
                .set_secondary_coord(0.0..frame.t_max, 0.0..r_top);
            c2.configure_secondary_axes()
                .y_desc(desc)
                .y_labels(6)
                .y_label_formatter(&|v| {
                    if *v <= r_max * 1.0001 {
                        trim(*v)
                    } else {
                        String::new()
                    }
                })
                .draw()
                .map_err(err)?;
            // The secondary coordinates are drawn through a plain chart
            // over the same area with the right-hand range.
            let c3 = builder()
                .build_cartesian_2d(0.0..frame.t_max, 0.0..r_top)
                .map_err(err)?;
            Some(c3)
        }
        None => None,
    };
    Ok((c, secondary))
}

fn trim(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One service: workers busy and requests queued (stacked) at the sampling
/// resolution, and rejections per second per `bin` on the right axis.
pub fn service(s: &ServiceSeries, bin: f64, frame: Frame) -> anyhow::Result<String> {
    let stacked: Vec<u64> = s
        .in_flight
        .iter()
        .zip(&s.queue)
        .map(|(a, b)| a + b)
        .collect();
    let y_max = (stacked.iter().copied().max().unwrap_or(0) as f64 * 1.1).max(2.0);
    let rejected: Vec<(f64, f64)> = s
        .t_s
        .iter()
        .copied()
        .zip(s.rejected.iter().map(|r| *r as f64))
        .collect();
    let rej = rebin(&rejected, bin, frame.t_max);
    let rej_max = rej.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0) * 1.1;
    svg(W, H, |root| {
        let (mut c, right) = time_chart(
            root,
            frame,
            y_max,
            "requests",
            Some((rej_max, "rejected / s")),
        )?;
        let pts = |v: &[u64]| -> Vec<(f64, f64)> {
            s.t_s.iter().zip(v).map(|(t, y)| (*t, *y as f64)).collect()
        };
        c.draw_series(AreaSeries::new(pts(&stacked), 0.0, YELLOW.mix(0.85)))
            .map_err(err)?;
        c.draw_series(AreaSeries::new(pts(&s.in_flight), 0.0, BLUE.mix(0.85)))
            .map_err(err)?;
        if let Some(mut r) = right {
            r.draw_series(LineSeries::new(steps(&rej, bin), RED.stroke_width(2)))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Counts at sampling instants (`t_s` the end of each interval) added up
/// per bin of `bin` seconds, as rates per second: (bin end, rate).
pub fn rebin(points: &[(f64, f64)], bin: f64, t_max: f64) -> Vec<(f64, f64)> {
    let n = (t_max / bin).ceil().max(1.0) as usize;
    let mut sums = vec![0.0; n];
    for (t, v) in points {
        // An interval ending at t belongs to the bin that holds (t - ε).
        let i = (((t - 1e-9) / bin).floor().max(0.0) as usize).min(n - 1);
        sums[i] += v;
    }
    sums.into_iter()
        .enumerate()
        .map(|(i, s)| ((i + 1) as f64 * bin, s / bin))
        .collect()
}

/// A binned series as flat steps: each value held over its bin.
fn steps(binned: &[(f64, f64)], bin: f64) -> Vec<(f64, f64)> {
    binned
        .iter()
        .flat_map(|&(end, v)| [((end - bin).max(0.0), v), (end, v)])
        .collect()
}

/// One line of a chart of rates: its name, colour and binned values.
pub struct Rate<'a> {
    pub name: &'a str,
    pub colour: RGBColor,
    pub binned: Vec<(f64, f64)>,
}

/// The load's rates per bin (sent, OK, rejected, failed), every generator
/// together, as steps.
pub fn load(rates: &[Rate], bin: f64, frame: Frame) -> anyhow::Result<String> {
    lines(rates, bin, frame, "requests / s")
}

/// Lines of values per bin, as steps, against `y_label` (rates, or levels
/// at each sample when `bin` is the sampling interval).
pub fn lines(rates: &[Rate], bin: f64, frame: Frame, y_label: &str) -> anyhow::Result<String> {
    let y_max = rates
        .iter()
        .flat_map(|r| &r.binned)
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    svg(W, H, |root| {
        let (mut c, _) = time_chart(root, frame, y_max, y_label, None)?;
        for r in rates {
            c.draw_series(LineSeries::new(
                steps(&r.binned, bin),
                r.colour.stroke_width(2),
            ))
            .map_err(err)?;
        }
        Ok(())
    })
}

/// One generator's latency percentiles per bin: (bin end, p50, p99), a
/// bin without an OK request left out.
#[derive(Clone)]
pub struct Percentiles {
    pub colour: RGBColor,
    pub points: Vec<(f64, f64, f64)>,
}

/// Latency percentiles per bin, a thin line for p50 and a thick one for p99
/// in each generator's colour, a dot per bin so a lone bin still shows.
pub fn latency(gens: &[Percentiles], bin: f64, frame: Frame) -> anyhow::Result<String> {
    percentile_lines(gens, bin, frame, "latency, ms")
}

/// As [`latency`], against `y_label` (the report's staleness uses it).
pub fn percentile_lines(
    gens: &[Percentiles],
    bin: f64,
    frame: Frame,
    y_label: &str,
) -> anyhow::Result<String> {
    let y_max = gens
        .iter()
        .flat_map(|g| &g.points)
        .map(|p| p.2)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    svg(W, H, |root| {
        let (mut c, _) = time_chart(root, frame, y_max, y_label, None)?;
        for g in gens {
            for run in runs(&g.points, bin) {
                let mid = |p: &(f64, f64, f64)| p.0 - bin / 2.0;
                c.draw_series(LineSeries::new(
                    run.iter().map(|p| (mid(p), p.1)),
                    g.colour.stroke_width(1),
                ))
                .map_err(err)?;
                c.draw_series(LineSeries::new(
                    run.iter().map(|p| (mid(p), p.2)),
                    g.colour.stroke_width(3),
                ))
                .map_err(err)?;
            }
            c.draw_series(
                g.points
                    .iter()
                    .map(|p| Circle::new((p.0 - bin / 2.0, p.2), 3, g.colour.filled())),
            )
            .map_err(err)?;
        }
        Ok(())
    })
}

/// Consecutive bins, so a gap (a bin without OK requests) stays a gap.
fn runs(points: &[(f64, f64, f64)], bin: f64) -> Vec<Vec<(f64, f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64, f64)>> = Vec::new();
    for p in points {
        match out.last_mut() {
            Some(run)
                if run
                    .last()
                    .is_some_and(|q| (p.0 - q.0 - bin).abs() < bin * 0.01) =>
            {
                run.push(*p)
            }
            _ => out.push(vec![*p]),
        }
    }
    out
}

/// One request as a dot: when it was due, its latency, its colour, and how
/// long of it was spent waiting in queues (drawn as a yellow tail below it).
pub struct Dot {
    pub t_s: f64,
    /// Its latency, less any hold (`held_ms`).
    pub latency_ms: f64,
    pub colour: RGBColor,
    pub queue_ms: Option<f64>,
    /// A long poll held waiting for news: how long (drawn as a ring).
    pub held_ms: Option<f64>,
    /// Its index in the request sample (the page's script finds its chain
    /// by it: the chart draws one `<circle>` per dot, in this order).
    pub sample: usize,
}

/// Every request (of a sample) as a dot at its send time and latency.
pub fn requests(dots: &[Dot], frame: Frame) -> anyhow::Result<String> {
    let y_max = dots
        .iter()
        .map(|d| d.latency_ms)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.05;
    svg(W, H + 60, |root| {
        let (mut c, _) = time_chart(root, frame, y_max, "latency, ms", None)?;
        c.draw_series(dots.iter().filter_map(|d| {
            let q = d.queue_ms?.min(d.latency_ms);
            (q > 0.0).then(|| {
                PathElement::new(
                    [(d.t_s, d.latency_ms), (d.t_s, d.latency_ms - q)],
                    YELLOW.mix(0.55).stroke_width(2),
                )
            })
        }))
        .map_err(err)?;
        c.draw_series(dots.iter().map(|d| {
            let style = match d.held_ms {
                Some(_) => d.colour.mix(0.85).stroke_width(1),
                None => d.colour.mix(0.85).filled(),
            };
            Circle::new((d.t_s, d.latency_ms), 3, style)
        }))
        .map_err(err)?;
        Ok(())
    })
}

/// The colour of an OK request that waited `share` of its latency in
/// queues: yellow when waiting was most of it, blue otherwise (a blend of
/// the two would read as grey, the colour of errors).
pub fn queue_colour(share: f64) -> RGBColor {
    if share >= 0.5 { YELLOW } else { BLUE }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebinning_adds_counts_into_rates() {
        let pts: Vec<(f64, f64)> = (1..=20).map(|i| (i as f64 * 0.1, 1.0)).collect();
        let b = rebin(&pts, 1.0, 2.0);
        assert_eq!(b, vec![(1.0, 10.0), (2.0, 10.0)]);
    }

    #[test]
    fn queue_share_runs_from_blue_to_yellow() {
        assert_eq!(queue_colour(0.0), BLUE);
        assert_eq!(queue_colour(0.49), BLUE);
        assert_eq!(queue_colour(0.9), YELLOW);
    }

    #[test]
    fn close_labels_take_separate_rows() {
        let overlay = Overlay {
            windows: vec![],
            marks: vec![
                super::super::timeline::Mark {
                    t_s: 4.0,
                    label: "kill cart#0".into(),
                    kind: MarkKind::Kill,
                },
                super::super::timeline::Mark {
                    t_s: 4.02,
                    label: "restart cart#0".into(),
                    kind: MarkKind::Restart,
                },
            ],
        };
        let frame = Frame {
            t_max: 10.0,
            overlay: &overlay,
        };
        let (labels, rows) = label_rows(frame, 800.0);
        assert_eq!(rows, 2);
        assert_ne!(labels[0].2, labels[1].2);
    }
}
