//! How a caller picks one replica of its callee, per attempt, by the five
//! `balance` policies, over one caller's view (its outstanding attempts per
//! replica, and replicas it ejected for 500 ms after a refused connection),
//! as `services/src/balance.rs` does for real callers.

use rand::Rng;
use rand::rngs::SmallRng;
use topolab_model::Balance;

use crate::engine::Nanos;

/// How long a replica that refused a connection is left out.
pub const EJECT_FOR: Nanos = 500_000_000;

/// One caller's state towards one callee service.
#[derive(Debug, Default, Clone)]
pub struct Pick {
    next: u32,
    /// Outstanding attempts per callee replica (least_requests, p2c).
    pub outstanding: Vec<u32>,
    ejected_until: Vec<Nanos>,
}

impl Pick {
    /// Picks a replica index in `0..n`.
    pub fn pick(
        &mut self,
        policy: Balance,
        n: u32,
        session: u64,
        now: Nanos,
        rng: &mut SmallRng,
    ) -> u32 {
        if n <= 1 {
            return 0;
        }
        if self.outstanding.len() < n as usize {
            self.outstanding.resize(n as usize, 0);
            self.ejected_until.resize(n as usize, 0);
        }
        let ok = |i: u32, s: &Self| s.ejected_until[i as usize] <= now;
        match policy {
            Balance::RoundRobin => self.round_robin(n),
            Balance::Random => rng.random_range(0..n),
            Balance::LeastRequests => {
                let start = self.round_robin(n);
                let mut best: Option<u32> = None;
                for k in 0..n {
                    let i = (start + k) % n;
                    if !ok(i, self) {
                        continue;
                    }
                    if best
                        .is_none_or(|b| self.outstanding[i as usize] < self.outstanding[b as usize])
                    {
                        best = Some(i);
                    }
                }
                best.unwrap_or(start)
            }
            Balance::P2c => {
                let a = rng.random_range(0..n);
                let mut b = rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                match (ok(a, self), ok(b, self)) {
                    (true, false) => a,
                    (false, true) => b,
                    _ if self.outstanding[b as usize] < self.outstanding[a as usize] => b,
                    _ => a,
                }
            }
            Balance::Sticky => {
                if session == u64::MAX {
                    return self.round_robin(n);
                }
                (0..n)
                    .filter(|&i| ok(i, self))
                    .max_by_key(|&i| rendezvous(session, i))
                    .unwrap_or_else(|| self.round_robin(n))
            }
        }
    }

    fn round_robin(&mut self, n: u32) -> u32 {
        let i = self.next % n;
        self.next = self.next.wrapping_add(1);
        i
    }

    /// An attempt to replica `i` left / ended.
    pub fn started(&mut self, i: u32) {
        if let Some(o) = self.outstanding.get_mut(i as usize) {
            *o += 1;
        }
    }

    pub fn ended(&mut self, i: u32) {
        if let Some(o) = self.outstanding.get_mut(i as usize) {
            *o = o.saturating_sub(1);
        }
    }

    /// Replica `i` refused a connection: policies that notice leave it out.
    pub fn eject(&mut self, policy: Balance, i: u32, now: Nanos) {
        let notices = matches!(
            policy,
            Balance::LeastRequests | Balance::P2c | Balance::Sticky
        );
        if notices && let Some(t) = self.ejected_until.get_mut(i as usize) {
            *t = now + EJECT_FOR;
        }
    }
}

/// The rendezvous weight of a session key on a replica (splitmix64 of both).
fn rendezvous(key: u64, replica: u32) -> u64 {
    let mut z =
        key ^ (u64::from(replica) << 32 | u64::from(replica)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn round_robin_rotates_and_sticky_keeps_a_key() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut p = Pick::default();
        let got: Vec<u32> = (0..6)
            .map(|_| p.pick(Balance::RoundRobin, 3, u64::MAX, 0, &mut rng))
            .collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2]);
        let first = p.pick(Balance::Sticky, 4, 42, 0, &mut rng);
        assert!((0..10).all(|_| p.pick(Balance::Sticky, 4, 42, 0, &mut rng) == first));
        p.eject(Balance::Sticky, first, 0);
        assert_ne!(p.pick(Balance::Sticky, 4, 42, 1, &mut rng), first);
        assert_eq!(p.pick(Balance::Sticky, 4, 42, EJECT_FOR, &mut rng), first);
    }

    #[test]
    fn least_requests_avoids_the_busy_one() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut p = Pick::default();
        p.pick(Balance::LeastRequests, 2, u64::MAX, 0, &mut rng);
        p.started(0);
        p.started(0);
        assert!((0..5).all(|_| p.pick(Balance::LeastRequests, 2, u64::MAX, 0, &mut rng) == 1));
        for _ in 0..50 {
            assert_eq!(p.pick(Balance::P2c, 2, u64::MAX, 0, &mut rng), 1);
        }
    }
}
