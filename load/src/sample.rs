//! Each generator's bounded, evenly drawn sample of its requests, for the
//! report's per-request view: reservoir sampling (Vitter's algorithm R), so
//! every request has the same chance to be kept whatever the run's length,
//! and memory stays at [`PER_GENERATOR`] requests.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use topolab_results::requests::{PER_GENERATOR, RequestSample};

/// A request as kept: when it was due, its latency, code and trace.
#[derive(Debug, Clone, Copy)]
pub struct Kept {
    pub due: Instant,
    pub latency_us: u64,
    pub code: &'static str,
    pub trace_id: Option<[u8; 16]>,
}

/// A fixed-capacity uniform sample of one generator's finished requests.
#[derive(Debug, Clone)]
pub struct Reservoir {
    begin: Instant,
    capacity: usize,
    seen: u64,
    kept: Vec<Kept>,
    rng: StdRng,
}

impl Reservoir {
    /// An empty sample of at most [`PER_GENERATOR`] requests, timed from
    /// `begin` (the start of load), drawn with `seed`.
    pub fn new(begin: Instant, seed: u64) -> Self {
        Self::with_capacity(begin, seed, PER_GENERATOR)
    }

    fn with_capacity(begin: Instant, seed: u64, capacity: usize) -> Self {
        Reservoir {
            begin,
            capacity,
            seen: 0,
            kept: Vec::with_capacity(capacity.min(256)),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Offers one finished request: kept with probability capacity / seen.
    pub fn offer(&mut self, request: Kept) {
        self.seen += 1;
        if self.kept.len() < self.capacity {
            self.kept.push(request);
            return;
        }
        let j = self.rng.random_range(0..self.seen);
        if let Some(slot) = self.kept.get_mut(j as usize) {
            *slot = request;
        }
    }

    /// Requests offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The sample as rows of `requests.csv`, by due time.
    pub fn rows(&self, generator: &str) -> Vec<RequestSample> {
        let mut rows: Vec<RequestSample> = self
            .kept
            .iter()
            .map(|k| RequestSample {
                generator: generator.to_string(),
                t_s: round6(k.due.saturating_duration_since(self.begin).as_secs_f64()),
                latency_ms: k.latency_us as f64 / 1e3,
                outcome: k.code.to_string(),
                trace_id: k.trace_id.map(hex),
            })
            .collect();
        rows.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        rows
    }
}

fn hex(id: [u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_its_capacity_drawn_evenly() {
        let begin = Instant::now();
        let mut r = Reservoir::with_capacity(begin, 7, 100);
        for i in 0..10_000u64 {
            r.offer(Kept {
                due: begin + std::time::Duration::from_millis(i),
                latency_us: i,
                code: "OK",
                trace_id: None,
            });
        }
        assert_eq!((r.kept.len(), r.seen()), (100, 10_000));
        // Evenly drawn: about half the kept requests come from each half.
        let early = r.kept.iter().filter(|k| k.latency_us < 5_000).count();
        assert!(
            (30..=70).contains(&early),
            "{early} of 100 from the first half"
        );
        let rows = r.rows("g");
        assert!(rows.windows(2).all(|w| w[0].t_s <= w[1].t_s));
        assert_eq!(rows[0].outcome, "OK");
    }

    #[test]
    fn a_short_run_keeps_every_request() {
        let begin = Instant::now();
        let mut r = Reservoir::new(begin, 1);
        for _ in 0..10 {
            r.offer(Kept {
                due: begin,
                latency_us: 5,
                code: "RESOURCE_EXHAUSTED",
                trace_id: Some([0xab; 16]),
            });
        }
        let rows = r.rows("g");
        assert_eq!(rows.len(), 10);
        assert_eq!(
            rows[0].trace_id.as_deref(),
            Some("abababababababababababababababab")
        );
    }
}
