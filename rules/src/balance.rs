//! Which replica of a callee an attempt goes to, by the callee's `balance`
//! (or a balancer's `policy`), over one caller's view of those replicas:
//! its attempts outstanding on each, and the ones it ejected after a refused
//! connection. Shared because the spread of attempts is what `predict` must
//! get right: a caller process and a simulated caller pick alike.
//!
//! `least_requests` and `p2c` see outstanding attempts pile up on a slow or
//! frozen replica, and they and `sticky` skip an ejected replica for
//! [`EJECT_FOR`] (all ejected: they try them all rather than fail without
//! trying). `round_robin` and `random` are blind, as DNS-style rotation is:
//! they keep sending to a dead replica.

use rand::Rng;
use topolab_model::Balance;

use crate::{Nanos, affinity};

/// How long a replica whose connection failed is skipped by the policies
/// that skip; then one attempt tries it again.
pub const EJECT_FOR: Nanos = 500_000_000;

/// One caller's view of one callee's replicas.
#[derive(Debug, Default, Clone)]
pub struct Picker {
    /// The next turn of the rotation (`round_robin`, and where
    /// `least_requests` starts looking, so that ties spread evenly).
    next: u32,
    /// Attempts outstanding per replica.
    outstanding: Vec<u32>,
    /// Skipped until this time (0: never ejected).
    down_until: Vec<Nanos>,
    /// The latest `down_until`: before it some replica may be down; from
    /// it on none is, and picks skip the search for the live ones.
    any_down_until: Nanos,
}

impl Picker {
    /// A view of `n` replicas, none busy, none ejected. A view made with
    /// `Default` grows to the `n` its first pick names, so a caller that
    /// never picks holds nothing.
    pub fn new(n: u32) -> Self {
        let mut p = Picker::default();
        p.fit(n);
        p
    }

    /// The replica, in `0..n`, for the next attempt (`None` when `n` is 0).
    /// `key` is the request's session key ([`affinity::key`]), which only
    /// `sticky` reads; `now` tells ejected replicas from those back.
    #[inline]
    pub fn pick(
        &mut self,
        policy: Balance,
        n: u32,
        key: Option<u64>,
        now: Nanos,
        rng: &mut impl Rng,
    ) -> Option<u32> {
        if n <= 1 {
            return (n == 1).then_some(0);
        }
        self.fit(n);
        Some(match policy {
            Balance::RoundRobin => self.turn() % n,
            Balance::Random => rng.random_range(0..n),
            Balance::LeastRequests => {
                // Start at the next turn's live replica, so ties spread
                // evenly over the live ones.
                let turn = self.turn();
                let up = self.up(n, now);
                let start = up.nth(self, turn % up.count);
                let mut best: Option<u32> = None;
                for k in 0..n {
                    let i = (start + k) % n;
                    if up.has(self, i) && best.is_none_or(|b| self.load(i) < self.load(b)) {
                        best = Some(i);
                    }
                }
                // Cannot be None: `up` holds at least one replica.
                best.unwrap_or(start)
            }
            Balance::P2c => {
                let up = self.up(n, now);
                if up.count == 1 {
                    up.nth(self, 0)
                } else {
                    let a = rng.random_range(0..up.count);
                    let mut b = rng.random_range(0..up.count - 1);
                    if b >= a {
                        b += 1;
                    }
                    let (x, y) = (up.nth(self, a), up.nth(self, b));
                    if self.load(y) < self.load(x) { y } else { x }
                }
            }
            Balance::Sticky => match key {
                // Rendezvous hashing: a key's replica changes only when that
                // replica goes away (or comes back), never because another did.
                Some(key) => {
                    let up = self.up(n, now);
                    (0..n)
                        .filter(|&i| up.has(self, i))
                        .max_by_key(|&i| affinity::weight(key, i))
                        .unwrap_or(0)
                }
                None => {
                    let turn = self.turn();
                    let up = self.up(n, now);
                    up.nth(self, turn % up.count)
                }
            },
        })
    }

    /// An attempt to replica `i` left: it is outstanding until [`Self::ended`].
    #[inline]
    pub fn started(&mut self, i: u32) {
        if let Some(o) = self.outstanding.get_mut(i as usize) {
            *o += 1;
        }
    }

    /// An attempt to replica `i` ended, however it ended.
    #[inline]
    pub fn ended(&mut self, i: u32) {
        if let Some(o) = self.outstanding.get_mut(i as usize) {
            *o = o.saturating_sub(1);
        }
    }

    /// Replica `i` could not be reached at `now`: the policies that skip
    /// skip it for [`EJECT_FOR`].
    pub fn eject(&mut self, i: u32, now: Nanos) {
        if let Some(t) = self.down_until.get_mut(i as usize) {
            *t = now + EJECT_FOR;
            self.any_down_until = self.any_down_until.max(*t);
        }
    }

    /// Replica `i` answered: it is up, ejected or not.
    #[inline]
    pub fn answered(&mut self, i: u32) {
        if let Some(t) = self.down_until.get_mut(i as usize) {
            *t = 0;
        }
    }

    /// Attempts outstanding on replica `i`.
    pub fn outstanding(&self, i: u32) -> u32 {
        self.outstanding.get(i as usize).copied().unwrap_or(0)
    }

    fn fit(&mut self, n: u32) {
        if self.outstanding.len() < n as usize {
            self.outstanding.resize(n as usize, 0);
            self.down_until.resize(n as usize, 0);
        }
    }

    /// The next turn, to be taken modulo the number of candidates.
    fn turn(&mut self) -> u32 {
        let t = self.next;
        self.next = self.next.wrapping_add(1);
        t
    }

    fn load(&self, i: u32) -> u32 {
        self.outstanding[i as usize]
    }

    /// The replicas the skipping policies choose from at `now`.
    fn up(&self, n: u32, now: Nanos) -> Up {
        if now >= self.any_down_until {
            return Up {
                count: n,
                all: true,
                now,
            };
        }
        let count = self.down_until[..n as usize]
            .iter()
            .filter(|&&t| t <= now)
            .count() as u32;
        // All ejected: try them all rather than fail without trying.
        Up {
            count: if count == 0 { n } else { count },
            all: count == 0,
            now,
        }
    }
}

/// The replicas not ejected at `now` (`all`: every replica counts).
#[derive(Debug, Clone, Copy)]
struct Up {
    count: u32,
    all: bool,
    now: Nanos,
}

impl Up {
    fn has(self, p: &Picker, i: u32) -> bool {
        self.all || p.down_until[i as usize] <= self.now
    }

    /// The `k`-th of them in index order (`k < count`).
    fn nth(self, p: &Picker, k: u32) -> u32 {
        if self.all {
            return k;
        }
        let mut seen = 0;
        for (i, &t) in p.down_until.iter().enumerate() {
            if t <= self.now {
                if seen == k {
                    return i as u32;
                }
                seen += 1;
            }
        }
        // Cannot be reached while k < count; the first replica is harmless.
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn picks(p: &mut Picker, policy: Balance, n: u32, now: Nanos, times: usize) -> Vec<u32> {
        let mut rng = SmallRng::seed_from_u64(7);
        (0..times)
            .map(|_| p.pick(policy, n, None, now, &mut rng).unwrap())
            .collect()
    }

    fn counts(p: &mut Picker, policy: Balance, n: u32, now: Nanos, times: usize) -> Vec<usize> {
        let mut c = vec![0; n as usize];
        for i in picks(p, policy, n, now, times) {
            c[i as usize] += 1;
        }
        c
    }

    #[test]
    fn no_replica_is_none_and_one_is_always_it() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut p = Picker::default();
        assert_eq!(p.pick(Balance::P2c, 0, None, 0, &mut rng), None);
        assert_eq!(p.pick(Balance::P2c, 1, None, 0, &mut rng), Some(0));
    }

    #[test]
    fn round_robin_rotates_exactly_and_is_blind_to_ejection() {
        let mut p = Picker::new(3);
        p.eject(1, 0);
        assert_eq!(
            picks(&mut p, Balance::RoundRobin, 3, 0, 6),
            [0, 1, 2, 0, 1, 2]
        );
    }

    #[test]
    fn least_requests_takes_the_least_loaded_and_rotates_among_ties() {
        let mut p = Picker::new(3);
        p.started(0);
        p.started(0);
        // Turns start at 0, 1, 2, 0: ties between 1 and 2 go to whichever
        // comes first from there.
        assert_eq!(picks(&mut p, Balance::LeastRequests, 3, 0, 4), [1, 1, 2, 1]);
        p.eject(1, 0);
        assert_eq!(picks(&mut p, Balance::LeastRequests, 3, 0, 3), [2, 2, 2]);
        p.ended(0);
        p.ended(0);
        // 0 and 2 tie and take turns; 1 is still out.
        assert_eq!(picks(&mut p, Balance::LeastRequests, 3, 1, 4), [2, 0, 2, 0]);
    }

    #[test]
    fn p2c_never_takes_the_busier_of_its_two_nor_an_ejected_one() {
        let mut p = Picker::new(3);
        for _ in 0..5 {
            p.started(0);
        }
        let c = counts(&mut p, Balance::P2c, 3, 0, 300);
        assert_eq!(c[0], 0, "{c:?}");
        p.eject(1, 0);
        assert_eq!(counts(&mut p, Balance::P2c, 3, 0, 300), [0, 0, 300]);
        // Once the ejection passes, 1 is back.
        assert!(counts(&mut p, Balance::P2c, 3, EJECT_FOR, 300)[1] > 0);
    }

    #[test]
    fn an_answer_ends_an_ejection_at_once() {
        let mut p = Picker::new(2);
        p.eject(0, 0);
        p.started(1);
        assert_eq!(counts(&mut p, Balance::P2c, 2, 1, 10), [0, 10]);
        p.answered(0);
        assert_eq!(counts(&mut p, Balance::P2c, 2, 1, 10), [10, 0]);
    }

    #[test]
    fn all_ejected_means_all_are_tried() {
        let mut p = Picker::new(2);
        p.eject(0, 0);
        p.eject(1, 0);
        assert_eq!(counts(&mut p, Balance::LeastRequests, 2, 1, 10), [5, 5]);
        let c = counts(&mut p, Balance::P2c, 2, 1, 100);
        assert_eq!(c.iter().sum::<usize>(), 100);
        assert!(c[0] > 0 && c[1] > 0, "{c:?}");
    }

    #[test]
    fn sticky_without_a_key_rotates_over_the_live_replicas() {
        let mut p = Picker::new(3);
        p.eject(1, 0);
        assert_eq!(picks(&mut p, Balance::Sticky, 3, 0, 4), [0, 2, 0, 2]);
    }

    #[test]
    fn sticky_keeps_keys_and_moves_only_the_lost_replicas_keys() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut p = Picker::new(3);
        let mut pick = |p: &mut Picker, k: u64, now| {
            p.pick(Balance::Sticky, 3, Some(k), now, &mut rng).unwrap()
        };
        let before: Vec<u32> = (0..300).map(|k| pick(&mut p, k, 0)).collect();
        let again: Vec<u32> = (0..300).map(|k| pick(&mut p, k, 0)).collect();
        assert_eq!(before, again);
        let on = |r: u32| before.iter().filter(|&&p| p == r).count();
        assert!((70..130).contains(&on(0)), "spread: {}", on(0));
        p.eject(0, 0);
        for (k, was) in before.iter().enumerate() {
            let now = pick(&mut p, k as u64, 1);
            if *was == 0 {
                assert_ne!(now, 0);
            } else {
                assert_eq!(now, *was, "{k} moved though its replica lived");
            }
        }
        let back: Vec<u32> = (0..300).map(|k| pick(&mut p, k, EJECT_FOR)).collect();
        assert_eq!(back, before);
    }

    #[test]
    fn outstanding_counts_never_go_below_zero() {
        let mut p = Picker::new(2);
        p.started(1);
        p.ended(1);
        p.ended(1);
        assert_eq!(p.outstanding(1), 0);
        // Out of range: ignored.
        p.started(5);
        p.eject(5, 0);
        assert_eq!(p.outstanding(5), 0);
    }
}
