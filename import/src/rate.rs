//! One generator's arrivals, counted in time buckets that double in width
//! when there are too many (memory bounded whatever the length), and read
//! back as a rate: one, or `stages` when it changed, with `constant` or
//! `poisson` arrivals by the dispersion of the counts.

use std::collections::BTreeMap;

/// Buckets kept at most before they are merged pairwise.
const MAX_BUCKETS: usize = 4096;
/// The first bucket width, ns.
const FIRST_WIDTH: u64 = 100_000_000;
/// Windows aim at this many arrivals each, so counts can be compared.
const PER_WINDOW: f64 = 40.0;
/// Windows for the dispersion aim at this many arrivals each.
const PER_SMALL_WINDOW: f64 = 5.0;
/// Stages at most.
pub const MAX_STAGES: usize = 8;
/// Below this index of dispersion (variance / mean of counts) arrivals are
/// taken as evenly spaced.
pub const CONSTANT_DISPERSION: f64 = 0.5;

/// Arrivals of one generator.
#[derive(Debug, Clone, Default)]
pub struct Arrivals {
    origin: Option<u64>,
    width: u64,
    buckets: BTreeMap<i64, u64>,
    pub n: u64,
    pub first: u64,
    pub last: u64,
}

/// A stretch of constant rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub rate: f64,
    pub duration_ns: u64,
    pub arrivals: u64,
}

/// What the arrivals say about the load.
#[derive(Debug, Clone)]
pub struct Load {
    pub stages: Vec<Stage>,
    pub dispersion: f64,
    pub poisson: bool,
    pub windows: usize,
    pub window_ns: u64,
}

impl Arrivals {
    /// Counts one arrival at `t` ns.
    pub fn add(&mut self, t: u64) {
        let origin = *self.origin.get_or_insert(t);
        if self.n == 0 {
            self.width = FIRST_WIDTH;
            self.first = t;
            self.last = t;
        }
        self.n += 1;
        self.first = self.first.min(t);
        self.last = self.last.max(t);
        let idx = (t as i128 - origin as i128).div_euclid(self.width as i128) as i64;
        *self.buckets.entry(idx).or_default() += 1;
        if self.buckets.len() > MAX_BUCKETS {
            self.width *= 2;
            let old = std::mem::take(&mut self.buckets);
            for (i, c) in old {
                *self.buckets.entry(i.div_euclid(2)).or_default() += c;
            }
        }
    }

    /// The load these arrivals show; `None` with fewer than two.
    pub fn load(&self) -> Option<Load> {
        if self.n < 2 {
            return None;
        }
        let span = (self.last - self.first).max(1);
        let mean_rate = (self.n - 1) as f64 / span as f64;
        // Windows of whole buckets holding about PER_WINDOW arrivals.
        let (counts, window_ns) = self.windows(PER_WINDOW / mean_rate);
        // The last window is cut short by the end of the arrivals.
        let full = if counts.len() > 2 {
            counts.len() - 1
        } else {
            counts.len()
        };
        let segments = segment(&counts[..full]);
        let w = window_ns as f64;
        // Each stretch's rate from its inner windows (those at its edges
        // may straddle a change), per ns.
        let rates: Vec<f64> = segments
            .iter()
            .map(|&(a, b)| {
                let inner = if b - a >= 3 {
                    &counts[a + 1..b - 1]
                } else {
                    &counts[a..b]
                };
                inner.iter().sum::<u64>() as f64 / (inner.len() as f64 * w)
            })
            .collect();
        // Where each change happened: inside the two windows around it,
        // where the counts of the two rates add up to what was seen.
        let mut cuts = vec![self.first];
        for (i, pair) in segments.windows(2).enumerate() {
            let k = pair[1].0;
            let (ra, rb) = (rates[i], rates[i + 1]);
            let c = (counts[k - 1] + counts[k]) as f64;
            let t = if (ra - rb).abs() > 0.0 {
                ((c - 2.0 * w * rb) / (ra - rb)).clamp(0.0, 2.0 * w)
            } else {
                w
            };
            cuts.push(self.first + ((k - 1) as f64 * w + t) as u64);
        }
        cuts.push(self.last);
        let mut stages: Vec<Stage> = Vec::new();
        for (i, r) in rates.iter().enumerate() {
            let d = cuts[i + 1].saturating_sub(cuts[i]);
            stages.push(Stage {
                rate: r * 1e9,
                duration_ns: d,
                arrivals: (r * d as f64).round() as u64,
            });
        }
        if stages.len() <= 1 {
            stages = vec![Stage {
                rate: mean_rate * 1e9,
                duration_ns: span,
                arrivals: self.n,
            }];
        }
        // Dispersion on small windows (a few arrivals each): counts against
        // what the stage's rate expects, chi-square per window.
        let (small, small_ns) = self.windows(PER_SMALL_WINDOW / mean_rate);
        let mut chi = 0.0;
        let mut used = 0usize;
        for (i, c) in small.iter().enumerate().take(small.len().saturating_sub(1)) {
            let mid = self.first + (i as u64 * small_ns) + small_ns / 2;
            let stage = cuts.windows(2).position(|p| mid < p[1]).unwrap_or(0);
            let e = stages.get(stage).map_or(mean_rate * 1e9, |s| s.rate) * small_ns as f64 / 1e9;
            if e > 0.0 {
                chi += (*c as f64 - e).powi(2) / e;
                used += 1;
            }
        }
        let dispersion = if used > 0 { chi / used as f64 } else { 1.0 };
        Some(Load {
            stages,
            dispersion,
            poisson: dispersion >= CONSTANT_DISPERSION,
            windows: used,
            window_ns: small_ns,
        })
    }

    /// Counts in windows of whole buckets about `want_ns` wide, from the
    /// first arrival's bucket to the last's; and the window's width.
    fn windows(&self, want_ns: f64) -> (Vec<u64>, u64) {
        let origin = self.origin.unwrap_or(self.first);
        let per = ((want_ns / self.width as f64).round() as i64).max(1);
        let at = |t: u64| (t as i128 - origin as i128).div_euclid(self.width as i128) as i64;
        let (lo, hi) = (at(self.first), at(self.last));
        let mut counts = Vec::new();
        let mut w = lo;
        while w <= hi {
            counts.push(self.buckets.range(w..w + per).map(|(_, c)| c).sum());
            w += per;
        }
        (counts, per as u64 * self.width)
    }
}

/// Cuts window counts into stretches of steady rate: a window more than
/// four Poisson standard deviations from its stretch's mean starts a new
/// one; neighbours within 10% of each other are then joined, and the
/// closest pairs joined until at most [`MAX_STAGES`] remain.
fn segment(counts: &[u64]) -> Vec<(usize, usize)> {
    let mut segs: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for i in 0..counts.len() {
        if i > start {
            let mean = counts[start..i].iter().sum::<u64>() as f64 / (i - start) as f64;
            let sd = mean.max(1.0).sqrt();
            if (counts[i] as f64 - mean).abs() > 4.0 * sd {
                segs.push((start, i));
                start = i;
            }
        }
    }
    if start < counts.len() {
        segs.push((start, counts.len()));
    }
    let mean =
        |s: &(usize, usize)| counts[s.0..s.1].iter().sum::<u64>() as f64 / (s.1 - s.0) as f64;
    loop {
        let closest = segs
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let (a, b) = (mean(&w[0]), mean(&w[1]));
                (i, (a - b).abs() / a.max(b).max(1e-9))
            })
            .min_by(|x, y| x.1.total_cmp(&y.1));
        match closest {
            Some((i, gap)) if gap < 0.1 || segs.len() > MAX_STAGES => {
                segs[i].1 = segs[i + 1].1;
                segs.remove(i + 1);
            }
            _ => return segs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Exp};

    fn poisson(rate: f64, from_s: f64, to_s: f64, rng: &mut impl rand::Rng) -> Vec<u64> {
        let e = Exp::new(rate).unwrap();
        let mut t = from_s;
        let mut out = Vec::new();
        loop {
            t += e.sample(rng);
            if t >= to_s {
                return out;
            }
            out.push((t * 1e9) as u64);
        }
    }

    #[test]
    fn a_steady_poisson_rate_is_one_stage() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut a = Arrivals::default();
        poisson(50.0, 0.0, 60.0, &mut rng)
            .into_iter()
            .for_each(|t| a.add(t));
        let l = a.load().unwrap();
        assert_eq!(l.stages.len(), 1, "{l:?}");
        assert!((l.stages[0].rate - 50.0).abs() < 3.0, "{l:?}");
        assert!(l.poisson, "{l:?}");
    }

    #[test]
    fn a_rate_that_doubles_is_two_stages_and_even_spacing_is_constant() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let mut a = Arrivals::default();
        let mut ts = poisson(20.0, 0.0, 30.0, &mut rng);
        ts.extend(poisson(60.0, 30.0, 60.0, &mut rng));
        ts.into_iter().for_each(|t| a.add(t));
        let l = a.load().unwrap();
        assert_eq!(l.stages.len(), 2, "{l:?}");
        assert!((l.stages[0].rate - 20.0).abs() < 3.0, "{l:?}");
        assert!((l.stages[1].rate - 60.0).abs() < 6.0, "{l:?}");
        let mut c = Arrivals::default();
        (0..1000u64).for_each(|i| c.add(i * 20_000_000));
        let l = c.load().unwrap();
        assert!(!l.poisson, "{l:?}");
        assert!((l.stages[0].rate - 50.0).abs() < 0.5, "{l:?}");
    }
}
