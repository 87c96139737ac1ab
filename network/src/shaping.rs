//! What one link does to one frame: dropped (a partition, or loss drawn at
//! random), or held until a departure time made of the bandwidth's
//! serialisation (earliest departure time pacing: each frame leaves after
//! the one before it has had its time on the wire) plus the delay, drawn
//! with its jitter. Frames of one burst (each within [`BURST`] of the one
//! before) share one draw and keep their order, as packets sent together
//! along one path do: a call's request, sent as a few frames, is delayed
//! once, not by the largest of several draws. Pure, so it is tested
//! without a network.

use std::time::{Duration, Instant};

use rand::Rng;
use rand_distr::{Distribution, Normal};
use topolab_model::LinkShape;

use crate::plan::spread;

/// Frames closer together than this are one burst: one delay for all.
pub const BURST: Duration = Duration::from_millis(3);

/// TCP's minimum retransmission timeout on Linux: what a lost segment
/// costs a connection when its first repair is lost too. Where bytes
/// cannot be dropped (a shaped TCP stream in a replica, on Swarm), a loss
/// is a stall instead: [`repair`].
pub const MIN_RTO: Duration = Duration::from_millis(200);

/// The least time Linux waits before a tail-loss probe resends a lost
/// segment; most losses on a short path are repaired this fast (or by a
/// fast retransmit, faster still).
pub const LOSS_PROBE: Duration = Duration::from_millis(10);

/// What the `losses`-th loss in a row of one segment costs, over a path
/// of one-way `delay`: the first is repaired by a probe after two round
/// trips' worth of delay (at least [`LOSS_PROBE`]), each further one by
/// the retransmission timeout, doubling from [`MIN_RTO`].
pub fn repair(losses: u32, delay: Duration) -> Duration {
    match losses {
        0 => Duration::ZERO,
        1 => (delay * 4).max(LOSS_PROBE),
        n => MIN_RTO * 2u32.saturating_pow(n - 2).min(64),
    }
}

/// What a link does to one frame (or one write of a stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It leaves at this instant.
    Departs(Instant),
    /// It is lost at random (`loss`).
    Lost,
    /// The link is partitioned.
    Cut,
}

/// One directed link in force, and when its wire is next free.
#[derive(Debug, Clone)]
pub struct Pace {
    pub shape: LinkShape,
    /// When the last frame admitted has finished serialising.
    next_free: Option<Instant>,
    /// The last frame's arrival and the delay drawn for it.
    last: Option<(Instant, Duration)>,
}

impl Pace {
    /// A link with `shape` and an idle wire.
    pub fn new(shape: LinkShape) -> Pace {
        Pace {
            shape,
            next_free: None,
            last: None,
        }
    }

    /// A new shape; the wire's backlog is kept, as a qdisc's would be,
    /// but a burst's shared delay belonged to the old shape: the next frame
    /// draws its own.
    pub fn reshape(&mut self, shape: LinkShape) {
        self.shape = shape;
        self.last = None;
    }

    /// When a frame of `len` bytes arriving at `now` leaves; `None`: dropped.
    pub fn admit<R: Rng + ?Sized>(
        &mut self,
        now: Instant,
        len: usize,
        rng: &mut R,
    ) -> Option<Instant> {
        match self.fate(now, len, rng) {
            Fate::Departs(at) => Some(at),
            Fate::Lost | Fate::Cut => None,
        }
    }

    /// What happens to a frame of `len` bytes arriving at `now`.
    pub fn fate<R: Rng + ?Sized>(&mut self, now: Instant, len: usize, rng: &mut R) -> Fate {
        let s = &self.shape;
        if s.partition {
            return Fate::Cut;
        }
        if let Some(loss) = s.loss
            && rng.random::<f64>() < loss
        {
            return Fate::Lost;
        }
        let mut depart = now;
        if let Some(bits) = s.bandwidth.filter(|b| *b > 0) {
            let start = self.next_free.map_or(now, |f| f.max(now));
            let on_wire = Duration::from_secs_f64(len as f64 * 8.0 / bits as f64);
            self.next_free = Some(start + on_wire);
            depart = start + on_wire;
        }
        let mean = s.delay.map_or(Duration::ZERO, |d| d.mean());
        let sd = spread(s);
        let burst = self
            .last
            .filter(|(at, _)| now.saturating_duration_since(*at) < BURST)
            .map(|(_, d)| d);
        let delay = if let Some(d) = burst {
            d
        } else if sd.is_zero() {
            mean
        } else {
            let draw = Normal::new(mean.as_secs_f64(), sd.as_secs_f64())
                .map(|n| n.sample(rng))
                .unwrap_or(mean.as_secs_f64());
            Duration::from_secs_f64(draw.max(0.0))
        };
        self.last = Some((now, delay));
        Fate::Departs(depart + delay)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use topolab_model::Dist;

    use super::*;

    #[test]
    fn a_delay_holds_every_frame_and_jitter_spreads_it() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        let mut p = Pace::new(LinkShape {
            delay: Some(Dist::Const(Duration::from_millis(50))),
            jitter: Some(Duration::from_millis(10)),
            ..Default::default()
        });
        // One frame every 5 ms: each its own burst, so each its own draw.
        let ds: Vec<f64> = (0..2000)
            .map(|i| {
                let at = now + Duration::from_millis(5 * i);
                (p.admit(at, 100, &mut rng).unwrap() - at).as_secs_f64() * 1e3
            })
            .collect();
        let mean = ds.iter().sum::<f64>() / ds.len() as f64;
        let sd = (ds.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / ds.len() as f64).sqrt();
        assert!((mean - 50.0).abs() < 1.0, "{mean}");
        assert!((sd - 10.0).abs() < 1.0, "{sd}");
    }

    #[test]
    fn the_frames_of_a_burst_share_one_delay() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(4);
        let mut p = Pace::new(LinkShape {
            delay: Some(Dist::Const(Duration::from_millis(50))),
            jitter: Some(Duration::from_millis(10)),
            ..Default::default()
        });
        let a = p.admit(now, 100, &mut rng).unwrap() - now;
        let later = now + Duration::from_micros(1500);
        let b = p.admit(later, 100, &mut rng).unwrap() - later;
        assert_eq!(a, b);
    }

    #[test]
    fn loss_drops_its_share_and_a_partition_drops_all() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(2);
        let mut p = Pace::new(LinkShape {
            loss: Some(0.05),
            ..Default::default()
        });
        let dropped = (0..20_000)
            .filter(|_| p.admit(now, 100, &mut rng).is_none())
            .count();
        assert!((900..1100).contains(&dropped), "{dropped}");
        p.reshape(LinkShape {
            partition: true,
            ..Default::default()
        });
        assert!(p.admit(now, 100, &mut rng).is_none());
    }

    #[test]
    fn a_first_loss_is_probed_and_a_lost_repair_waits_the_timeout() {
        let d = Duration::from_millis;
        assert_eq!(repair(0, d(50)), d(0));
        assert_eq!(repair(1, d(0)), LOSS_PROBE);
        assert_eq!(repair(1, d(5)), d(20));
        assert_eq!(repair(2, d(5)), d(200));
        assert_eq!(repair(3, d(5)), d(400));
    }

    #[test]
    fn bandwidth_spaces_frames_by_their_time_on_the_wire() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(3);
        let mut p = Pace::new(LinkShape {
            bandwidth: Some(1_000_000),
            ..Default::default()
        });
        // 125 frames of 1000 bytes = 1 Mbit: the last leaves after 1 s.
        let last = (0..125)
            .map(|_| p.admit(now, 1000, &mut rng).unwrap())
            .last()
            .unwrap();
        let took = (last - now).as_secs_f64();
        assert!((took - 1.0).abs() < 1e-6, "{took}");
    }
}
