//! `sweep.html`: a sweep folder's page, self-contained: what was varied, the
//! knee in words, the collapse curve ([`super::sweep_chart`]) and the step
//! table. Written by `topolab sweep` and again by `topolab report` on a
//! sweep folder, from the folder's files alone.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::sweep_chart;
use crate::sweep::{Sweep, SweepMeta};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
tr.knee{background:#ffe9b3}svg{max-width:100%;height:auto}";

/// The page of `sweep` (its `sweep.json` may be absent in an old folder:
/// the page then says what it cannot know).
pub fn render(sweep: &Sweep, folder_name: &str) -> anyhow::Result<String> {
    let meta = sweep.meta.clone().unwrap_or_else(|| SweepMeta {
        topology: folder_name.to_string(),
        vary: "(not recorded: no sweep.json)".into(),
        goal: "(not recorded: no sweep.json)".into(),
        goal_p99_ms: None,
        predicted: None,
    });
    let rows = &sweep.rows;
    let knee = sweep.knee();
    let goal_ms = meta.goal_p99_ms.unwrap_or(f64::INFINITY);
    let capacity = meta.predicted.as_ref().and_then(|p| p.capacity_per_s);
    let chart = sweep_chart::svg(rows, knee, goal_ms, capacity)?;
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (meta.topology) " — sweep" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (meta.topology) ": sweep of " code { (meta.vary) } }
                p {
                    @match knee {
                        Some(k) => {
                            "The knee: " b { (format!("{:.2}/s asked", rows[k].offered_per_s)) }
                            (format!(" (step {}, {} = {}), ", rows[k].step, meta.vary, rows[k].value))
                            "the highest load asked for that was still served within the goal."
                        }
                        None => "No step was served within the goal: there is no knee in this range.",
                    }
                }
                p { "Goal: " (meta.goal) }
                @if let Some(p) = &meta.predicted {
                    p {
                        "Pale lines: what the simulator predicted for each step (same seed; hop cost "
                        (format!("{:.3}", p.hop_cost_ms)) " ms, " (format!("{:.3}", p.work_overhead_ms))
                        " ms added to each work step, from " (p.hop_cost_source) ")."
                        @match (p.capacity_per_s, &p.bottleneck) {
                            (Some(c), Some(b)) => { " The purple line is the predicted capacity: " b { (format!("{c:.2}/s")) } " asked, where " (b) " saturates." }
                            (Some(c), None) => { " The purple line is the predicted capacity: " b { (format!("{c:.2}/s")) } " asked." }
                            _ => " The capacity moves with the swept value, so no single line is drawn (see predicted_capacity_per_s in sweep.csv).",
                        }
                    }
                }
                // Cannot carry markup of its own: plotters escapes the text it draws.
                (PreEscaped(chart))
                (table(sweep, knee))
            }
        }
    };
    Ok(page.into_string())
}

/// The step table, the knee's row marked.
pub fn table(sweep: &Sweep, knee: Option<usize>) -> Markup {
    html! {
        table {
            tr {
                th { "step" } th { "value" } th { "asked/s" } th { "sent/s" } th { "ok/s" } th { "p50 ms" }
                th { "p99 ms" } th { "rejected" } th { "errors" } th { "within goal" }
                th { "predicted ok/s" } th { "predicted p50" } th { "predicted p99" } th { "predicted failed" }
            }
            @for (i, s) in sweep.rows.iter().enumerate() {
                tr class=[(Some(i) == knee).then_some("knee")] {
                    td { (s.step) } td { (s.value) }
                    td { (format!("{:.2}", s.offered_per_s)) }
                    td { (format!("{:.2}", s.sent_per_s)) }
                    td { (format!("{:.2}", s.throughput_per_s)) }
                    td { (format!("{:.1}", s.p50_ms)) }
                    td { (format!("{:.1}", s.p99_ms)) }
                    td { (format!("{:.1}%", s.rejected_share * 100.0)) }
                    td { (format!("{:.1}%", s.error_share * 100.0)) }
                    td { (if s.within_goal { "yes" } else { "no" }) }
                    td { (opt(s.predicted_throughput_per_s, 1.0, "")) }
                    td { (opt(s.predicted_p50_ms, 1.0, "")) }
                    td { (opt(s.predicted_p99_ms, 1.0, "")) }
                    td { (opt(s.predicted_failed_share, 100.0, "%")) }
                }
            }
        }
    }
}

/// A predicted figure × `scale`, or a dash where the step was not predicted.
fn opt(v: Option<f64>, scale: f64, unit: &str) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.1}{unit}", v * scale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::tests::row;

    #[test]
    fn the_page_marks_the_knee_and_escapes_what_it_quotes() {
        let sweep = Sweep {
            meta: Some(SweepMeta {
                topology: "<diner>".into(),
                vary: "load.c.rate".into(),
                goal: "p99 ≤ 2700 ms".into(),
                goal_p99_ms: Some(2700.0),
                predicted: None,
            }),
            rows: vec![
                row(1, 1.0, 900.0, 0, true),
                row(2, 4.0, 2000.0, 0, true),
                row(3, 8.0, 2900.0, 30, false),
            ],
        };
        let page = render(&sweep, "x").unwrap();
        assert!(page.contains("<svg") && page.contains("knee 4.00/s"));
        assert!(page.contains("p99 goal"));
        assert!(page.contains("<tr class=\"knee\">"));
        assert!(page.contains("&lt;diner&gt;") && !page.contains("<diner>"));
    }
}
