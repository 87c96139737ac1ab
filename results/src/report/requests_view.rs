//! The per-request view, the seed's picture: each dot is a request at the
//! time it was due and its latency, blue when it was served mostly
//! working, yellow when it spent most of its latency waiting in queues
//! (from its trace; the waiting is drawn as a yellow tail below the dot),
//! red when it was rejected, purple when it timed out. A long poll the
//! server held waiting for news is a ring, drawn at its latency without the
//! hold: holding is the protocol working, and drawn at full height a few
//! held polls would flatten every request that really queued.
//! Also the latency percentiles per bin, taken from the same requests.

use std::collections::{BTreeMap, HashMap};

use plotters::style::RGBColor;

use super::charts::{self, Dot, GREY, PURPLE, RED};
use crate::requests::RequestSample;

/// Most dots one chart draws; a larger sample is thinned evenly.
pub const MAX_DOTS: usize = 4000;

/// A request whose trace is unknown (not traced, or no traces file).
const UNTRACED: RGBColor = RGBColor(120, 150, 190);

/// The dots of `sample`, thinned to [`MAX_DOTS`]; a held request is
/// placed at its latency less its hold (see the module's comment).
pub fn dots(
    sample: &[RequestSample],
    queue_ms: &HashMap<String, f64>,
    held_ms: &HashMap<String, f64>,
) -> Vec<Dot> {
    let step = sample.len().div_ceil(MAX_DOTS).max(1);
    sample
        .iter()
        .enumerate()
        .step_by(step)
        .map(|(i, r)| {
            let of =
                |m: &HashMap<String, f64>| r.trace_id.as_ref().and_then(|id| m.get(id)).copied();
            let held_ms = of(held_ms).map(|h| h.min(r.latency_ms));
            let latency_ms = r.latency_ms - held_ms.unwrap_or(0.0);
            Dot {
                t_s: r.t_s,
                latency_ms,
                colour: colour(&r.outcome, latency_ms, of(queue_ms)),
                queue_ms: of(queue_ms),
                held_ms,
                sample: i,
            }
        })
        .collect()
}

/// An OK request's colour by the share of its (unheld) latency it queued.
fn colour(outcome: &str, latency_ms: f64, queue_ms: Option<f64>) -> RGBColor {
    match outcome {
        "OK" => match queue_ms {
            Some(q) if latency_ms > 0.0 => charts::queue_colour(q / latency_ms),
            _ => UNTRACED,
        },
        "RESOURCE_EXHAUSTED" => RED,
        "DEADLINE_EXCEEDED" => PURPLE,
        _ => GREY,
    }
}

/// Per generator (by name), the p50 and p99 of its OK requests' latency by
/// the bin of `bin` seconds they were due in: (bin end, p50, p99).
pub fn percentiles(sample: &[RequestSample], bin: f64) -> BTreeMap<&str, Vec<(f64, f64, f64)>> {
    let mut by: BTreeMap<&str, BTreeMap<i64, Vec<f64>>> = BTreeMap::new();
    for r in sample.iter().filter(|r| r.outcome == "OK") {
        let i = (r.t_s / bin).floor() as i64;
        by.entry(&r.generator)
            .or_default()
            .entry(i)
            .or_default()
            .push(r.latency_ms);
    }
    by.into_iter()
        .map(|(g, bins)| {
            let points = bins
                .into_iter()
                .map(|(i, mut v)| {
                    v.sort_by(f64::total_cmp);
                    ((i + 1) as f64 * bin, quantile(&v, 0.5), quantile(&v, 0.99))
                })
                .collect();
            (g, points)
        })
        .collect()
}

/// The nearest-rank quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(t: f64, ms: f64, outcome: &str, trace: Option<&str>) -> RequestSample {
        RequestSample {
            generator: "g".into(),
            t_s: t,
            latency_ms: ms,
            outcome: outcome.into(),
            trace_id: trace.map(String::from),
        }
    }

    #[test]
    fn dots_take_their_colour_from_the_outcome_and_the_queue_share() {
        let q = HashMap::from([("a".to_string(), 90.0), ("b".to_string(), 0.0)]);
        let d = dots(
            &[
                r(0.1, 100.0, "OK", Some("a")),
                r(0.2, 100.0, "OK", Some("b")),
                r(0.3, 0.5, "RESOURCE_EXHAUSTED", None),
                r(0.4, 50.0, "OK", None),
            ],
            &q,
            &HashMap::new(),
        );
        assert_eq!(d[0].colour, charts::queue_colour(0.9));
        assert_eq!(d[1].colour, charts::BLUE);
        assert_eq!(d[2].colour, RED);
        assert_eq!(d[3].colour, UNTRACED);
    }

    /// scores.yaml: a long poll held 4.5 s that queued 2 ms is a ring at
    /// its 3 ms of unheld latency, blue, its hold kept beside it; a poll
    /// that queued most of its unheld time is still yellow.
    #[test]
    fn a_held_long_poll_is_drawn_without_its_hold() {
        let q = HashMap::from([("held".to_string(), 2.0), ("busy".to_string(), 4.0)]);
        let h = HashMap::from([("held".to_string(), 4500.0), ("busy".to_string(), 4495.0)]);
        let d = dots(
            &[
                r(0.1, 4503.0, "OK", Some("held")),
                r(0.2, 4500.0, "OK", Some("busy")),
                r(0.3, 3.0, "OK", Some("plain")),
            ],
            &q,
            &h,
        );
        assert_eq!((d[0].latency_ms, d[0].held_ms), (3.0, Some(4500.0)));
        assert_eq!(d[0].colour, charts::queue_colour(2.0 / 3.0));
        assert_eq!(
            (d[1].latency_ms, d[1].colour),
            (5.0, charts::queue_colour(0.8))
        );
        assert_eq!((d[2].latency_ms, d[2].held_ms), (3.0, None));
    }

    #[test]
    fn percentiles_per_bin_of_ok_requests() {
        let sample: Vec<RequestSample> = (0..20)
            .map(|i| {
                r(
                    i as f64 * 0.1,
                    (i % 10 + 1) as f64,
                    if i == 5 { "UNAVAILABLE" } else { "OK" },
                    None,
                )
            })
            .collect();
        let p = percentiles(&sample, 1.0);
        assert_eq!(p["g"], vec![(1.0, 5.0, 10.0), (2.0, 5.0, 10.0)]);
    }
}
