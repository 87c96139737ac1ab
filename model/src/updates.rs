//! Data that changes over time (`updates:` on a service) and the three ways a
//! client learns of it (`poll`, `long_poll`, `subscribe` on a generator): the
//! version timeline every replica and the launcher draw alike from the run's
//! seed, and the client behaviour a generator follows.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::dist::Dist;

/// How a generator's clients learn of new versions of its target's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Follow {
    /// `poll: INTERVAL`: ask, take the version the replica holds, wait, repeat.
    Poll { interval: Duration },
    /// `long_poll: TIMEOUT`: the replica holds the request until a version
    /// newer than the client's appears, or `timeout`; then ask again at once.
    LongPoll { timeout: Duration },
    /// `subscribe: service/Endpoint`: one server-streaming call per client,
    /// opened once; every new version is pushed down it.
    Subscribe,
}

impl Follow {
    /// The word users write, for tables and errors.
    pub fn key(&self) -> &'static str {
        match self {
            Follow::Poll { .. } => "poll",
            Follow::LongPoll { .. } => "long_poll",
            Follow::Subscribe => "subscribe",
        }
    }
}

/// Shortest mean time between versions a run accepts: faster than this the
/// "staleness" of a client is below what one gRPC hop can resolve here.
pub const MIN_MEAN_GAP: Duration = Duration::from_millis(10);

/// Most versions a timeline holds; past it no newer version appears (at the
/// shortest mean gap that is over two hours of run).
pub const MAX_VERSIONS: u64 = 1_000_000;

/// The instants, from the start of load, at which a service's versions
/// 1, 2, 3, ... appear (version 0 is what it holds before the load starts).
/// Drawn from the run's seed and the service's name only, so every replica,
/// a restarted one included, and the launcher see the same timeline.
#[derive(Debug, Clone)]
pub struct Timeline {
    gaps: Dist,
    rng: StdRng,
    /// `at[k - 1]`: when version `k` appears.
    at: Vec<Duration>,
    /// Versions drawn after a [`Timeline::retime`] count from here.
    floor: Duration,
    /// The seed the timeline was made with, mixed into a retime's draws.
    seed: u64,
}

impl Timeline {
    /// The timeline of `service`, whose versions are `gaps` apart.
    pub fn new(seed: u64, service: &str, gaps: Dist) -> Self {
        let seed = timeline_seed(seed, service);
        Timeline {
            gaps,
            rng: StdRng::seed_from_u64(seed),
            at: Vec::new(),
            floor: Duration::ZERO,
            seed,
        }
    }

    /// From `from` (after the start of load) on, versions come `gaps`
    /// apart (the lab's knob): the versions already due by then stay, the
    /// next appears `gaps` after `from`. Every copy of the timeline (each
    /// replica's, the launcher's) retimed with the same `from`, `gaps` and
    /// `change` (a count of retimes) draws the same versions afterwards.
    pub fn retime(&mut self, from: Duration, gaps: Dist, change: u64) {
        self.version_at(from);
        let kept = self.at.partition_point(|t| *t <= from);
        self.at.truncate(kept);
        self.gaps = gaps;
        self.floor = from;
        self.rng = StdRng::seed_from_u64(self.seed ^ change.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }

    /// When version `k` (at least 1) appears, from the start of load.
    pub fn created(&mut self, k: u64) -> Duration {
        debug_assert!(k >= 1, "version 0 exists before the load starts");
        let k = k.clamp(1, MAX_VERSIONS);
        while (self.at.len() as u64) < k {
            let last = self.at.last().copied().unwrap_or_default().max(self.floor);
            // A zero gap (a `normal` truncated at 0) still orders versions.
            let gap = self
                .gaps
                .sample(&mut self.rng)
                .max(Duration::from_micros(1));
            self.at.push(last + gap);
        }
        self.at[(k - 1) as usize]
    }

    /// The newest version that exists `since_start` after the start of load.
    pub fn version_at(&mut self, since_start: Duration) -> u64 {
        let mut k = self.at.partition_point(|t| *t <= since_start) as u64;
        while k == self.at.len() as u64 && k < MAX_VERSIONS {
            if self.created(k + 1) > since_start {
                break;
            }
            k += 1;
        }
        k
    }
}

/// The timeline's seed: the run's seed mixed with the service's name (FNV-1a,
/// stable across Rust versions), so services change independently.
fn timeline_seed(seed: u64, service: &str) -> u64 {
    let h = crate::seed::fnv1a(service.bytes());
    seed ^ h.rotate_left(17) ^ 0x7570_6461_7465_7321
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(ms: u64) -> Dist {
        Dist::Exp {
            mean: Duration::from_millis(ms),
        }
    }

    #[test]
    fn same_seed_and_service_same_timeline() {
        let mut a = Timeline::new(7, "scores", exp(2000));
        let mut b = Timeline::new(7, "scores", exp(2000));
        let mut c = Timeline::new(7, "other", exp(2000));
        assert_eq!(a.created(50), b.created(50));
        assert_ne!(a.created(50), c.created(50));
    }

    #[test]
    fn versions_increase_and_match_their_instants() {
        let mut t = Timeline::new(1, "s", exp(100));
        let mut last = Duration::ZERO;
        for k in 1..200 {
            let at = t.created(k);
            assert!(at > last);
            last = at;
            assert_eq!(t.version_at(at), k);
            assert_eq!(t.version_at(at - Duration::from_micros(1)), k - 1);
        }
        assert_eq!(t.version_at(Duration::ZERO), 0);
    }

    #[test]
    fn mean_gap_follows_the_distribution() {
        let mut t = Timeline::new(3, "s", exp(2000));
        let n = 5000;
        let mean = t.created(n).as_secs_f64() / n as f64;
        assert!((mean - 2.0).abs() < 0.1, "mean gap {mean}s");
    }

    /// Retimed copies agree with each other, keep what was due, and follow
    /// the new gaps afterwards.
    #[test]
    fn a_retimed_timeline_keeps_the_past_and_copies_agree() {
        let mut a = Timeline::new(3, "s", exp(2000));
        let mut b = Timeline::new(3, "s", exp(2000));
        let from = Duration::from_secs(10);
        let before = a.version_at(from);
        b.created(before + 5); // b had drawn further ahead: it must not matter
        a.retime(from, exp(100), 1);
        b.retime(from, exp(100), 1);
        assert_eq!(a.version_at(from), before, "what was due stays");
        let next = a.created(before + 1);
        assert!(next > from, "{next:?}");
        for k in before + 1..before + 200 {
            assert_eq!(a.created(k), b.created(k));
        }
        let span = a.created(before + 200) - from;
        // 200 gaps of mean 100 ms: 20 s, within 4 sigma (sqrt(200) * 100 ms).
        assert!((span.as_secs_f64() - 20.0).abs() < 4.0 * 1.42, "{span:?}");
    }
}
