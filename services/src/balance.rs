//! Picking one replica of a callee per attempt, by the callee's `balance`
//! (or a balancer's `policy`). The policies that can notice trouble skip it:
//! `least_requests` and `p2c` see outstanding attempts pile up on a slow or
//! frozen replica, and they and `sticky` skip a replica whose connection
//! failed (it is ejected for [`EJECT_FOR`]). `round_robin` and `random` are
//! blind, as DNS-style rotation is: they keep sending to a dead replica.
//!
//! tower's `p2c::Balance` needs a `Discover` stream and readiness per
//! endpoint, and offers only p2c; this picker keeps the five policies over
//! one shared view of the replicas (outstanding attempts, ejections).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;
use topolab_model::Balance;

/// How long a replica whose connection failed is skipped by the policies
/// that skip; then one attempt tries it again.
pub const EJECT_FOR: Duration = Duration::from_millis(500);

/// The replicas of one callee as a caller sees them.
#[derive(Debug)]
pub struct Pool {
    policy: Balance,
    peers: Vec<PeerLoad>,
    next: AtomicUsize,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct PeerLoad {
    /// Attempts outstanding on this replica.
    in_flight: Arc<AtomicU32>,
    /// Ejected until this many ns after the pool's epoch (0: not ejected).
    down_until: AtomicU64,
}

impl Pool {
    /// A pool of `n` replicas picked by `policy`.
    pub fn new(policy: Balance, n: usize) -> Self {
        Pool {
            policy,
            peers: (0..n).map(|_| PeerLoad::default()).collect(),
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    /// The replica for the next attempt; `None` when there is none at all.
    pub fn pick(&self, session: &str, rng: &mut impl Rng) -> Option<usize> {
        let n = self.peers.len();
        if n <= 1 {
            return (n == 1).then_some(0);
        }
        let rr = || self.next.fetch_add(1, Ordering::Relaxed) % n;
        let load = |i: usize| self.peers[i].in_flight.load(Ordering::Relaxed);
        let live = || {
            let up: Vec<usize> = (0..n).filter(|&i| !self.is_down(i)).collect();
            // All ejected: try them all rather than fail without trying.
            if up.is_empty() { (0..n).collect() } else { up }
        };
        Some(match self.policy {
            Balance::RoundRobin => rr(),
            Balance::Random => rng.random_range(0..n),
            Balance::LeastRequests => {
                let up = live();
                // Start at a rotating place so that ties spread evenly.
                let start = rr();
                (0..up.len())
                    .map(|k| up[(start + k) % up.len()])
                    .min_by_key(|&i| load(i))
                    .unwrap_or(up[0])
            }
            Balance::P2c => {
                let up = live();
                if up.len() == 1 {
                    up[0]
                } else {
                    let a = rng.random_range(0..up.len());
                    let b = (a + rng.random_range(1..up.len())) % up.len();
                    let (x, y) = (up[a], up[b]);
                    if load(y) < load(x) { y } else { x }
                }
            }
            Balance::Sticky if !session.is_empty() => {
                // Rendezvous hashing: a key's replica changes only when that
                // replica goes away (or comes back), never because another did.
                live()
                    .into_iter()
                    .max_by_key(|&i| rendezvous(session, i))
                    .unwrap_or(0)
            }
            Balance::Sticky => {
                let up = live();
                up[rr() % up.len()]
            }
        })
    }

    /// Counts an attempt as outstanding on replica `i` until the guard drops.
    pub fn start(&self, i: usize) -> Outstanding {
        let c = self.peers[i].in_flight.clone();
        c.fetch_add(1, Ordering::Relaxed);
        Outstanding(c)
    }

    /// Replica `i` could not be reached: skip it for [`EJECT_FOR`].
    pub fn eject(&self, i: usize) {
        let until = self.epoch.elapsed() + EJECT_FOR;
        self.peers[i]
            .down_until
            .store(until.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Replica `i` answered: it is up.
    pub fn answered(&self, i: usize) {
        self.peers[i].down_until.store(0, Ordering::Relaxed);
    }

    fn is_down(&self, i: usize) -> bool {
        let until = self.peers[i].down_until.load(Ordering::Relaxed);
        until != 0 && (self.epoch.elapsed().as_nanos() as u64) < until
    }
}

/// Decrements a replica's outstanding count when the attempt ends, however it ends.
#[derive(Debug)]
pub struct Outstanding(Arc<AtomicU32>);

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The weight of replica `i` for `key` (FNV-1a then a mix: stable across
/// processes and Rust versions, so every caller agrees on a key's replica).
fn rendezvous(key: &str, i: usize) -> u64 {
    let mut h = topolab_model::seed::fnv1a(key.bytes().chain((i as u64).to_le_bytes()));
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn counts(pool: &Pool, picks: usize, session: impl Fn(usize) -> String) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut c = vec![0; pool.peers.len()];
        for k in 0..picks {
            c[pool.pick(&session(k), &mut rng).unwrap()] += 1;
        }
        c
    }

    #[test]
    fn round_robin_is_exact_and_blind_to_ejection() {
        let pool = Pool::new(Balance::RoundRobin, 3);
        pool.eject(1);
        assert_eq!(counts(&pool, 300, |_| String::new()), [100, 100, 100]);
    }

    #[test]
    fn least_requests_and_p2c_avoid_a_loaded_or_ejected_replica() {
        for policy in [Balance::LeastRequests, Balance::P2c] {
            let pool = Pool::new(policy, 3);
            let _busy: Vec<_> = (0..5).map(|_| pool.start(0)).collect();
            let c = counts(&pool, 300, |_| String::new());
            assert_eq!(c[0], 0, "{policy:?}: {c:?}");
            pool.eject(1);
            let c = counts(&pool, 300, |_| String::new());
            assert_eq!(c, [0, 0, 300], "{policy:?}");
        }
    }

    #[test]
    fn sticky_keeps_keys_and_moves_only_the_lost_replicas_keys() {
        let pool = Pool::new(Balance::Sticky, 3);
        let mut rng = StdRng::seed_from_u64(1);
        let keys: Vec<String> = (0..300).map(|k| format!("s{k}")).collect();
        let before: Vec<usize> = keys
            .iter()
            .map(|k| pool.pick(k, &mut rng).unwrap())
            .collect();
        let again: Vec<usize> = keys
            .iter()
            .map(|k| pool.pick(k, &mut rng).unwrap())
            .collect();
        assert_eq!(before, again);
        let on = |r: usize| before.iter().filter(|&&p| p == r).count();
        assert!((70..130).contains(&on(0)), "spread: {}", on(0));
        pool.eject(0);
        for (k, was) in keys.iter().zip(&before) {
            let now = pool.pick(k, &mut rng).unwrap();
            if *was == 0 {
                assert_ne!(now, 0);
            } else {
                assert_eq!(now, *was, "{k} moved though its replica lived");
            }
        }
        pool.answered(0);
        let back: Vec<usize> = keys
            .iter()
            .map(|k| pool.pick(k, &mut rng).unwrap())
            .collect();
        assert_eq!(back, before);
    }
}
