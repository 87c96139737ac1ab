//! The table `sweep` prints: one line per step, the knee's line marked, and
//! a sentence naming the knee.

use std::fmt::Write;

use super::figures::StepFigures;

/// Renders the steps as aligned plain text, then the knee.
pub fn render(key: &str, steps: &[StepFigures], knee: Option<usize>, goal_ms: f64) -> String {
    // Clients that follow `updates` wait for freshness: their goal is on staleness.
    let stale = steps.iter().any(|s| s.staleness);
    let follow = stale || steps.iter().any(|s| s.server_msgs_per_s > 0.0);
    let mut header = vec![
        "step",
        "value",
        "asked/s",
        "sent/s",
        "ok/s",
        if stale { "stale p50 ms" } else { "p50 ms" },
        if stale { "stale p99 ms" } else { "p99 ms" },
        "rejected",
        "errors",
        "goal",
    ];
    if follow {
        header.extend(["most held", "most streams", "server msgs/s"]);
    }
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for (i, s) in steps.iter().enumerate() {
        rows.push(vec![
            format!("{}{}", i + 1, if Some(i) == knee { " knee" } else { "" }),
            s.value.clone(),
            format!("{:.2}", s.offered_per_s),
            format!("{:.2}", s.sent_per_s),
            format!("{:.2}", s.throughput_per_s),
            format!("{:.1}", s.p50_ms),
            format!("{:.1}", s.p99_ms),
            format!("{:.1}%", s.rejected_share() * 100.0),
            format!("{:.1}%", s.error_share() * 100.0),
            if s.within_goal { "ok" } else { "missed" }.to_string(),
        ]);
        if follow && let Some(r) = rows.last_mut() {
            r.push(s.max_held.to_string());
            r.push(s.max_streams.to_string());
            r.push(format!("{:.1}", s.server_msgs_per_s));
        }
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        for (c, cell) in r.iter().enumerate() {
            let w = widths[c];
            if c == 0 {
                let _ = write!(out, "{cell:<w$}  ");
            } else {
                let _ = write!(out, "{cell:>w$}  ");
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    let goal = if goal_ms.is_finite() {
        format!(
            "{}p99 ≤ {goal_ms:.1} ms and at most 1% failed",
            if stale { "staleness " } else { "" }
        )
    } else {
        "none (no step answered)".into()
    };
    let _ = writeln!(out, "\ngoal: {goal}");
    match knee {
        Some(k) => {
            let _ = writeln!(
                out,
                "knee: {:.2}/s asked ({key}={}): the highest load asked for that was still served within the goal",
                steps[k].offered_per_s, steps[k].value
            );
        }
        None => {
            let _ = writeln!(out, "knee: none; no step was served within the goal");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::{mark_and_find_knee, tests::step};

    #[test]
    fn names_the_knee() {
        let mut steps = vec![
            step(1.0, 900.0, 0),
            step(4.0, 2000.0, 0),
            step(8.0, 2900.0, 30),
        ];
        let knee = mark_and_find_knee(&mut steps, 2700.0);
        let text = render("load.c.rate", &steps, knee, 2700.0);
        assert!(text.contains("2 knee"), "{text}");
        assert!(
            text.contains("knee: 4.00/s asked (load.c.rate=4/s)"),
            "{text}"
        );
        assert!(text.contains("missed"), "{text}");
    }
}
