//! What happened when, for every time chart of the report: fault windows
//! (shaded), kills, pauses and restarts (markers), cascade onsets (dashed),
//! each labelled; and the bin width the charts of rates and percentiles use,
//! chosen to suit the load's rate.

use crate::cascade::Cascade;
use crate::summary::Summary;

/// A span of time a fault was in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub from_s: f64,
    pub to_s: f64,
    /// `slow 10x on db`.
    pub label: String,
}

/// What a marker stands for; each kind has its colour and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Kill,
    Restart,
    Onset,
    /// A change made from the lab (a rate set, a pause...).
    Action,
}

/// A moment: a kill, a restart, a cascade onset, or a lab's action.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub t_s: f64,
    pub label: String,
    pub kind: MarkKind,
}

/// Everything drawn over the time charts.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    pub windows: Vec<Window>,
    pub marks: Vec<Mark>,
}

impl Overlay {
    /// From the summary's faults, restarts and lab actions and the cascade's onsets;
    /// `end_s` closes windows that never cleared.
    pub fn of(summary: Option<&Summary>, cascade: &Cascade, end_s: f64) -> Self {
        let mut o = Overlay::default();
        if let Some(s) = summary {
            for f in &s.faults {
                let Some((from, to)) = f.window(end_s) else {
                    continue;
                };
                if f.fault == "kill" {
                    o.marks.push(Mark {
                        t_s: from,
                        label: format!("kill {}", f.target),
                        kind: MarkKind::Kill,
                    });
                } else {
                    o.windows.push(Window {
                        from_s: from,
                        to_s: to,
                        label: format!("{} on {}", f.fault, f.target),
                    });
                }
            }
            for r in &s.restart_log {
                o.marks.push(Mark {
                    t_s: r.t_s,
                    label: format!("restart {}", r.replica),
                    kind: MarkKind::Restart,
                });
            }
            for a in &s.actions {
                o.marks.push(Mark {
                    t_s: a.t_s,
                    label: a.what.clone(),
                    kind: MarkKind::Action,
                });
            }
        }
        for on in &cascade.onsets {
            o.marks.push(Mark {
                t_s: on.t_s,
                label: format!("{} {}", on.service, crate::cascade::label(on)),
                kind: MarkKind::Onset,
            });
        }
        o.marks.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        o
    }

    /// Labels in time order, windows and marks together, for the rows of
    /// labels above a chart: (time, label, is a window).
    pub fn labels(&self) -> Vec<(f64, &str)> {
        let mut all: Vec<(f64, &str)> = self
            .windows
            .iter()
            .map(|w| (w.from_s, w.label.as_str()))
            .chain(self.marks.iter().map(|m| (m.t_s, m.label.as_str())))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        all
    }
}

/// At least this many requests per bin on average, so a rate or a
/// percentile of a bin means something.
pub const MIN_PER_BIN: f64 = 30.0;

/// No fewer bins than this over the run, so the story still has a shape.
pub const MIN_BINS: f64 = 10.0;

/// The bin for rates and percentiles over time: the smallest of 1, 2, 5,
/// 10, 20, 50, ... sampling intervals that holds [`MIN_PER_BIN`] requests
/// at the run's mean rate, but no wider than leaves [`MIN_BINS`] bins.
pub fn bin_width(sample_every_s: f64, requests: u64, span_s: f64) -> f64 {
    let every = sample_every_s.max(1e-3);
    if requests == 0 || span_s <= 0.0 {
        return every;
    }
    let rate = requests as f64 / span_s;
    let widest = (span_s / MIN_BINS).max(every);
    let mut chosen = every;
    'ladder: for decade in [1.0, 10.0, 100.0, 1000.0, 10_000.0] {
        for step in [1.0, 2.0, 5.0] {
            let w = every * (step * decade);
            if w > widest + 1e-9 {
                break 'ladder;
            }
            chosen = w;
            if rate * w >= MIN_PER_BIN {
                break 'ladder;
            }
        }
    }
    chosen
}

/// `100 ms` or `2 s`, as a bin is named on a chart.
pub fn name_width(w: f64) -> String {
    if w < 1.0 {
        format!("{:.0} ms", w * 1e3)
    } else {
        format!("{} s", (w * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_suit_the_rate() {
        // The diner: ~100 requests over 20 s is 5/s: 2 s bins hold 10.
        assert_eq!(bin_width(0.1, 100, 20.0), 2.0);
        // 600/s: the sampling interval already holds 60.
        assert_eq!(bin_width(0.1, 12_000, 20.0), 0.1);
        // A trickle over a short run: never fewer than 10 bins.
        assert_eq!(bin_width(0.1, 5, 5.0), 0.5);
        assert_eq!(bin_width(0.1, 0, 5.0), 0.1);
        assert_eq!(name_width(0.5), "500 ms");
        assert_eq!(name_width(2.0), "2 s");
    }
}
