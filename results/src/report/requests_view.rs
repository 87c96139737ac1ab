//! The per-request view, the seed's picture: each dot is a request at the
//! time it was due and its latency, blue when it was served mostly
//! working, yellow when it spent most of its latency waiting in queues
//! (from its trace; the waiting is drawn as a yellow tail below the dot),
//! red when it was rejected, purple when it timed out.
//! Also the latency percentiles per bin, taken from the same requests.

use std::collections::{BTreeMap, HashMap};

use plotters::style::RGBColor;

use super::charts::{self, Dot, GREY, PURPLE, RED};
use crate::requests::RequestSample;

/// Most dots one chart draws; a larger sample is thinned evenly.
pub const MAX_DOTS: usize = 4000;

/// A request whose trace is unknown (not traced, or no traces file).
const UNTRACED: RGBColor = RGBColor(120, 150, 190);

/// The dots of `sample`, thinned to [`MAX_DOTS`].
pub fn dots(sample: &[RequestSample], queue_ms: &HashMap<String, f64>) -> Vec<Dot> {
    let step = sample.len().div_ceil(MAX_DOTS).max(1);
    sample
        .iter()
        .step_by(step)
        .map(|r| Dot {
            t_s: r.t_s,
            latency_ms: r.latency_ms,
            colour: colour(r, queue_ms),
            queue_ms: r.trace_id.as_ref().and_then(|id| queue_ms.get(id)).copied(),
        })
        .collect()
}

fn colour(r: &RequestSample, queue_ms: &HashMap<String, f64>) -> RGBColor {
    match r.outcome.as_str() {
        "OK" => match r.trace_id.as_ref().and_then(|id| queue_ms.get(id)) {
            Some(q) if r.latency_ms > 0.0 => charts::queue_colour(q / r.latency_ms),
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
        );
        assert_eq!(d[0].colour, charts::queue_colour(0.9));
        assert_eq!(d[1].colour, charts::BLUE);
        assert_eq!(d[2].colour, RED);
        assert_eq!(d[3].colour, UNTRACED);
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
