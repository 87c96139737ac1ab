//! The modelled network in the simulator (`network:` and link faults), as
//! extra time on a call's way to its callee: the links in force at the
//! moment the attempt leaves, from the caller's replica to the callee's.
//! An approximation of what a run's wire does, documented in
//! `docs/network.md`: a link's delay (drawn, with its jitter) each way it
//! shapes (`<->` adds the way back to the request's way, as the round trip
//! is what a caller waits), the request's serialisation at the link's
//! bandwidth and the response's at the way back's (no queue between
//! calls), loss as TCP's minimum
//! retransmission timeout (200 ms) for a call any of whose packets is
//! lost, and a partition as a request that never arrives (the caller's
//! timeout ends it).

use topolab_model::{Dist, LinkShape};

use crate::engine::Nanos;
use crate::world::World;

/// TCP's minimum retransmission timeout on Linux: what one lost segment
/// costs a call, at least.
const MIN_RTO: Nanos = 200_000_000;
/// TCP payload per 1500-byte frame.
const SEGMENT: u64 = 1448;

impl World<'_> {
    /// Extra time, in ns, for a request of `bytes` from replica `from` to
    /// replica `to` and its response of `back_bytes`, at this moment;
    /// `None`: it never arrives (a partition). Inlined: without a modelled
    /// network it is one test, and the payload sizes are never read.
    #[inline]
    pub(crate) fn link_delay(
        &mut self,
        from: u32,
        to: u32,
        bytes: u64,
        back_bytes: u64,
    ) -> Option<Nanos> {
        if !self.topo.network.in_use() {
            return Some(0);
        }
        self.modelled_delay(from, to, bytes, back_bytes)
    }

    /// [`World::link_delay`] on a modelled network.
    fn modelled_delay(&mut self, from: u32, to: u32, bytes: u64, back_bytes: u64) -> Option<Nanos> {
        let there = self.shape(from, to);
        let back = self.shape(to, from);
        if there.partition || back.partition {
            return None;
        }
        let mut extra = 0.0;
        for s in [&there, &back] {
            extra += self.draw(s);
        }
        for (s, n) in [(&there, bytes), (&back, back_bytes)] {
            if let Some(rate) = s.bandwidth.filter(|r| *r > 0) {
                extra += (n as f64 * 8.0 / rate as f64) * 1e9;
            }
        }
        let packets = 2.0 + (bytes / SEGMENT) as f64;
        let survive = (1.0 - there.loss.unwrap_or(0.0)) * (1.0 - back.loss.unwrap_or(0.0));
        let hit = 1.0 - survive.powf(packets);
        if hit > 0.0 && rand::Rng::random::<f64>(&mut self.rng) < hit {
            extra += MIN_RTO as f64;
        }
        Some(extra.max(0.0) as Nanos)
    }

    /// The links in force now on the packets replica `from` sends `to`.
    fn shape(&self, from: u32, to: u32) -> LinkShape {
        let net = &self.topo.network;
        let id = |r: u32| {
            let svc = &self.plan.services[self.plan.replica_service[r as usize] as usize];
            (svc.name.as_str(), r - svc.first)
        };
        let ((fs, fi), (ts, ti)) = (id(from), id(to));
        let covers = |l: &topolab_model::Link| {
            let z = &net.zones;
            (l.from.holds(fs, fi, z) && l.to.holds(ts, ti, z))
                || (l.both_ways && l.to.holds(fs, fi, z) && l.from.holds(ts, ti, z))
        };
        let now = self.now;
        let active = net.faults.iter().filter(|f| {
            let at = f.at.as_nanos() as Nanos;
            now >= at && f.duration.is_none_or(|d| now < at + d.as_nanos() as Nanos)
        });
        net.links
            .iter()
            .chain(active.map(|f| &f.link))
            .filter(|l| covers(l))
            .fold(LinkShape::default(), |s, l| s.and(&l.shape))
    }

    /// One way's delay, in ns: the delay drawn, plus the jitter as a
    /// normal spread (Box–Muller), as the run's wire draws it.
    fn draw(&mut self, s: &LinkShape) -> f64 {
        let base = s
            .delay
            .map_or(0.0, |d: Dist| d.sample(&mut self.rng).as_nanos() as f64);
        let jitter = s.jitter.map_or(0.0, |j| j.as_nanos() as f64);
        if jitter <= 0.0 {
            return base;
        }
        let u1: f64 = rand::Rng::random::<f64>(&mut self.rng).max(f64::MIN_POSITIVE);
        let u2: f64 = rand::Rng::random(&mut self.rng);
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (base + z * jitter).max(0.0)
    }
}
