//! Picking one replica of a callee per attempt, by the callee's `balance`
//! (or a balancer's `policy`): the rule is `topolab_rules::balance` (the
//! simulator picks by it too); this keeps one caller's view of a callee's
//! replicas behind a lock, with the clock that times ejections, and counts
//! an attempt outstanding for as long as its guard lives.
//!
//! tower's `p2c::Balance` needs a `Discover` stream and readiness per
//! endpoint, and offers only p2c; this picker keeps the five policies over
//! one shared view of the replicas (outstanding attempts, ejections).

use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;

use rand::Rng;
use tokio::time::Instant;
use topolab_model::Balance;
use topolab_rules::balance::Picker;
use topolab_rules::{Nanos, affinity};

pub use topolab_rules::balance::EJECT_FOR;

/// The replicas of one callee as a caller sees them.
#[derive(Debug)]
pub struct Pool {
    policy: Balance,
    n: u32,
    picker: Arc<Mutex<Picker>>,
    /// The origin of the rule's time.
    epoch: Instant,
}

impl Pool {
    /// A pool of `n` replicas picked by `policy`.
    pub fn new(policy: Balance, n: usize) -> Self {
        Pool {
            policy,
            n: n as u32,
            picker: Arc::new(Mutex::new(Picker::new(n as u32))),
            epoch: Instant::now(),
        }
    }

    /// The replica for the next attempt; `None` when there is none at all.
    pub fn pick(&self, session: &str, rng: &mut impl Rng) -> Option<usize> {
        let (key, now) = (affinity::key(session), self.now());
        let i = lock(&self.picker).pick(self.policy, self.n, key, now, rng)?;
        Some(i as usize)
    }

    /// Counts an attempt as outstanding on replica `i` until the guard drops.
    pub fn start(&self, i: usize) -> Outstanding {
        lock(&self.picker).started(i as u32);
        Outstanding(self.picker.clone(), i as u32)
    }

    /// Replica `i` could not be reached: skip it for [`EJECT_FOR`].
    pub fn eject(&self, i: usize) {
        let now = self.now();
        lock(&self.picker).eject(i as u32, now);
    }

    /// Replica `i` answered: it is up.
    pub fn answered(&self, i: usize) {
        lock(&self.picker).answered(i as u32);
    }

    fn now(&self) -> Nanos {
        self.epoch.elapsed().as_nanos() as Nanos
    }
}

/// Decrements a replica's outstanding count when the attempt ends, however it ends.
#[derive(Debug)]
pub struct Outstanding(Arc<Mutex<Picker>>, u32);

impl Drop for Outstanding {
    fn drop(&mut self) {
        lock(&self.0).ended(self.1);
    }
}

fn lock(picker: &Mutex<Picker>) -> MutexGuard<'_, Picker> {
    // A panic while holding this lock leaves plain counters behind; keep going.
    picker.lock()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn counts(pool: &Pool, picks: usize) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut c = vec![0; pool.n as usize];
        for _ in 0..picks {
            c[pool.pick("", &mut rng).unwrap()] += 1;
        }
        c
    }

    #[test]
    fn an_outstanding_attempt_counts_until_its_guard_drops() {
        let pool = Pool::new(Balance::LeastRequests, 2);
        let busy = pool.start(0);
        assert_eq!(counts(&pool, 10), [0, 10]);
        drop(busy);
        assert_eq!(counts(&pool, 10), [5, 5]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_ejection_lasts_its_time_on_the_replicas_clock() {
        let pool = Pool::new(Balance::P2c, 2);
        pool.eject(0);
        assert_eq!(counts(&pool, 10), [0, 10]);
        tokio::time::advance(std::time::Duration::from_nanos(EJECT_FOR)).await;
        let _busy = pool.start(1);
        assert_eq!(counts(&pool, 10), [10, 0]);
        pool.eject(1);
        pool.answered(1);
        assert_eq!(counts(&pool, 10), [10, 0], "1 is up but busy");
    }

    #[test]
    fn sticky_sessions_stay_put() {
        let pool = Pool::new(Balance::Sticky, 3);
        let mut rng = StdRng::seed_from_u64(1);
        let first = pool.pick("users-7", &mut rng);
        assert!((0..20).all(|_| pool.pick("users-7", &mut rng) == first));
    }
}
