//! The collapse curve of a sweep as an SVG chart, drawn with plotters, for
//! `sweep.html` and a run report's sweep section. Top: throughput and
//! failures against the load asked for, beside the line where throughput
//! would equal it. Bottom: p50 and p99 latency with the goal. The knee
//! is marked on both. When the steps were predicted, the predicted curves
//! are drawn in pale tints of the measured ones, and the predicted capacity
//! (where the first service saturates) as a purple vertical line.

use plotters::prelude::*;

use crate::sweep::SweepRow;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 720;

/// The chart alone, as SVG text.
pub fn svg(
    steps: &[SweepRow],
    knee: Option<usize>,
    goal_ms: f64,
    capacity: Option<f64>,
) -> anyhow::Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let (top, bottom) = root.split_vertically(HEIGHT / 2);
        let mut points: Vec<&SweepRow> = steps.iter().collect();
        points.sort_by(|a, b| a.offered_per_s.total_cmp(&b.offered_per_s));
        let x_max = points
            .iter()
            .map(|s| s.offered_per_s)
            .chain(capacity)
            .fold(0.0, f64::max)
            * 1.05
            + 1e-9;
        let knee_x = knee.map(|k| steps[k].offered_per_s);

        let y_max = points
            .iter()
            .map(|s| s.throughput_per_s.max(s.offered_per_s))
            .fold(0.0, f64::max)
            * 1.1
            + 1e-9;
        let mut c = ChartBuilder::on(&top)
            .caption("Throughput against the load asked for", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(chart_error)?;
        c.configure_mesh()
            .x_desc("load asked for (requests/s)")
            .y_desc("requests/s")
            .draw()
            .map_err(chart_error)?;
        let grey = RGBColor(170, 170, 170);
        c.draw_series(LineSeries::new([(0.0, 0.0), (x_max, x_max)], grey))
            .map_err(chart_error)?
            .label("asked (throughput = asked)")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], grey));
        let ok: Vec<(f64, f64)> = points
            .iter()
            .map(|s| (s.offered_per_s, s.throughput_per_s))
            .collect();
        series(&mut c, &ok, BLUE, "throughput (OK/s)")?;
        let failed: Vec<(f64, f64)> = points
            .iter()
            .map(|s| {
                (
                    s.offered_per_s,
                    (s.rejected_share + s.error_share) * sent_per_s(s),
                )
            })
            .collect();
        series(&mut c, &failed, RED, "rejected + failed (/s)")?;
        let p_ok = predicted(&points, |s| s.predicted_throughput_per_s);
        if !p_ok.is_empty() {
            series(&mut c, &p_ok, pale(BLUE), "predicted throughput")?;
            let p_failed = predicted(&points, |s| {
                Some(s.predicted_failed_share? * s.offered_per_s)
            });
            series(&mut c, &p_failed, pale(RED), "predicted rejected + failed")?;
        }
        if let Some(x) = knee_x {
            knee_line(&mut c, x, y_max)?;
        }
        if let Some(x) = capacity {
            capacity_line(&mut c, x, y_max)?;
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .draw()
            .map_err(chart_error)?;

        let l_max = points
            .iter()
            .map(|s| s.p99_ms)
            .chain(goal_ms.is_finite().then_some(goal_ms))
            .fold(0.0, f64::max)
            * 1.1
            + 1e-9;
        let mut c = ChartBuilder::on(&bottom)
            .caption(
                "Latency of OK requests against the load asked for",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..l_max)
            .map_err(chart_error)?;
        c.configure_mesh()
            .x_desc("load asked for (requests/s)")
            .y_desc("latency (ms)")
            .draw()
            .map_err(chart_error)?;
        let p50: Vec<(f64, f64)> = points.iter().map(|s| (s.offered_per_s, s.p50_ms)).collect();
        let p99: Vec<(f64, f64)> = points.iter().map(|s| (s.offered_per_s, s.p99_ms)).collect();
        series(&mut c, &p50, GREEN, "p50")?;
        series(&mut c, &p99, MAGENTA, "p99")?;
        let p_p50 = predicted(&points, |s| s.predicted_p50_ms);
        let p_p99 = predicted(&points, |s| s.predicted_p99_ms);
        if !p_p50.is_empty() {
            series(&mut c, &p_p50, pale(GREEN), "predicted p50")?;
            series(&mut c, &p_p99, pale(MAGENTA), "predicted p99")?;
        }
        if goal_ms.is_finite() {
            let orange = RGBColor(230, 140, 0);
            c.draw_series(LineSeries::new([(0.0, goal_ms), (x_max, goal_ms)], orange))
                .map_err(chart_error)?
                .label(format!("p99 goal ({goal_ms:.0} ms)"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], orange));
        }
        if let Some(x) = knee_x {
            knee_line(&mut c, x, l_max)?;
        }
        if let Some(x) = capacity {
            capacity_line(&mut c, x, l_max)?;
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(text)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A line with a dot at each step, in the legend as `label`.
fn series(
    c: &mut Chart,
    points: &[(f64, f64)],
    color: RGBColor,
    label: &str,
) -> anyhow::Result<()> {
    c.draw_series(LineSeries::new(
        points.iter().copied(),
        color.stroke_width(2),
    ))
    .map_err(chart_error)?
    .label(label)
    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
    c.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
        .map_err(chart_error)?;
    Ok(())
}

/// A vertical line at the knee, labelled.
fn knee_line(c: &mut Chart, x: f64, y_max: f64) -> anyhow::Result<()> {
    c.draw_series(LineSeries::new(
        [(x, 0.0), (x, y_max)],
        BLACK.stroke_width(1),
    ))
    .map_err(chart_error)?;
    c.draw_series(std::iter::once(Text::new(
        format!("knee {x:.2}/s"),
        (x, y_max * 0.95),
        ("sans-serif", 14),
    )))
    .map_err(chart_error)?;
    Ok(())
}

/// The steps' predicted figure (those that have one), against the load
/// asked for.
fn predicted(points: &[&SweepRow], f: impl Fn(&SweepRow) -> Option<f64>) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter_map(|s| Some((s.offered_per_s, f(s)?)))
        .collect()
}

/// A colour two thirds of the way to white: the predicted twin of a line.
fn pale(c: RGBColor) -> RGBColor {
    let t = |v: u8| ((u16::from(v) + 2 * 255) / 3) as u8;
    RGBColor(t(c.0), t(c.1), t(c.2))
}

/// A vertical purple line at the predicted capacity, labelled.
fn capacity_line(c: &mut Chart, x: f64, y_max: f64) -> anyhow::Result<()> {
    let purple = RGBColor(122, 79, 208);
    c.draw_series(LineSeries::new(
        [(x, 0.0), (x, y_max)],
        purple.stroke_width(2),
    ))
    .map_err(chart_error)?;
    c.draw_series(std::iter::once(Text::new(
        format!("capacity {x:.1}/s (predicted)"),
        (x, y_max * 0.88),
        ("sans-serif", 14).into_font().color(&purple),
    )))
    .map_err(chart_error)?;
    Ok(())
}

fn chart_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the sweep chart: {e}")
}

/// What a step sent per second; files from before `sent_per_s` fall back on
/// the rate asked for.
fn sent_per_s(s: &SweepRow) -> f64 {
    if s.sent_per_s > 0.0 {
        s.sent_per_s
    } else {
        s.offered_per_s
    }
}
