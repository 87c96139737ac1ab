//! A running generator's live controls, the lab's knob: a rate (open loop)
//! or a number of clients (closed loop) that replaces the generator's stages
//! from the moment it is set, and pause and resume. A generator started with
//! a knob runs until the run is stopped, its stages played and then held at
//! their last rate or clients ([`held_rate`], [`held_clients`]).
//!
//! The knob is a `watch` channel: the generator's own thread sees a change
//! at once, whatever runtime the setter runs on.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;
use topolab_model::shape::clients_at;
use topolab_model::{ClientStage, RateStage, Topology};

/// What the knob says now; `None` follows the generator's own stages.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Setting {
    /// Requests per second (open loop), from when it was set.
    pub rate: Option<f64>,
    /// Clients (closed loop), from when it was set.
    pub clients: Option<u32>,
    /// Sends nothing while true; requests in flight finish.
    pub paused: bool,
}

/// One generator's knob; clones share it.
#[derive(Debug, Clone)]
pub struct Knob {
    tx: Arc<watch::Sender<Setting>>,
    /// Shared by every knob of a run (see [`knobs`]).
    book: Arc<Book>,
}

impl Default for Knob {
    fn default() -> Self {
        Knob {
            tx: Arc::new(watch::channel(Setting::default()).0),
            book: Arc::default(),
        }
    }
}

/// The replicas of the services whose replicas changed while the load runs
/// (the lab's replicas up and down; a Swarm task started again at a new
/// address): a generator's targets look here before each request (one
/// atomic load while nothing changes) and call the replicas listed.
#[derive(Debug, Default)]
pub struct Book {
    generation: AtomicU64,
    addrs: RwLock<BTreeMap<String, Vec<SocketAddr>>>,
}

impl Book {
    /// How many changes so far: a target rebuilds only when it moves.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// `service`'s replicas, if they changed.
    pub(crate) fn get(&self, service: &str) -> Option<Vec<SocketAddr>> {
        self.addrs.read().get(service).cloned()
    }

    /// From now, generators send `service`'s requests to `addrs`.
    pub fn set(&self, service: &str, addrs: Vec<SocketAddr>) {
        self.addrs.write().insert(service.to_string(), addrs);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

impl Knob {
    /// What the knob says now.
    pub fn get(&self) -> Setting {
        *self.tx.borrow()
    }

    /// Holds an open loop at `rate` per second from now on.
    pub fn set_rate(&self, rate: f64) {
        self.tx.send_modify(|s| s.rate = Some(rate));
    }

    /// Holds a closed loop at `clients` from now on.
    pub fn set_clients(&self, clients: u32) {
        self.tx.send_modify(|s| s.clients = Some(clients));
    }

    /// Pauses (true) or resumes (false) sending.
    pub fn pause(&self, paused: bool) {
        self.tx.send_modify(|s| s.paused = paused);
    }

    /// From now, generators send `service`'s requests to `addrs` (the
    /// lab's replicas up and down); every knob of the run shares this.
    pub fn set_addrs(&self, service: &str, addrs: Vec<SocketAddr>) {
        self.book.set(service, addrs);
    }

    /// Where this generator's targets find the replicas in use.
    pub(crate) fn book(&self) -> Arc<Book> {
        self.book.clone()
    }

    /// For the generator's loop: wakes it on every change.
    pub(crate) fn watch(&self) -> watch::Receiver<Setting> {
        self.tx.subscribe()
    }
}

/// One knob per generator, by name: given to `run_all`, its generators run
/// until stopped and follow their knobs.
pub type Knobs = BTreeMap<String, Knob>;

/// A fresh knob for every generator of `topology`.
pub fn knobs(topology: &Topology) -> Knobs {
    let book = Arc::new(Book::default());
    topology
        .load
        .iter()
        .map(|g| {
            let knob = Knob {
                book: book.clone(),
                ..Knob::default()
            };
            (g.name.clone(), knob)
        })
        .collect()
}

/// The rate of `stages` at `t` seconds from their start, held at the last
/// stage's end rate once they are over; and when it next jumps (the start
/// of the next stage), for a loop that waits through a pause.
pub fn held_rate(stages: &[RateStage], t: f64) -> (f64, Option<f64>) {
    let mut t0 = 0.0;
    for s in stages {
        let len = s.duration.as_secs_f64();
        if t < t0 + len {
            let x = if len > 0.0 { (t - t0) / len } else { 1.0 };
            return (s.from + (s.to - s.from) * x.clamp(0.0, 1.0), Some(t0 + len));
        }
        t0 += len;
    }
    (stages.last().map_or(0.0, |s| s.to), None)
}

/// The clients of `stages` at `t`, held at the last stage's once they are over.
pub fn held_clients(stages: &[ClientStage], t: f64) -> u32 {
    let total: f64 = stages.iter().map(|s| s.duration.as_secs_f64()).sum();
    if t < total {
        clients_at(stages, t)
    } else {
        stages.last().map_or(0, |s| s.clients)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stage(from: f64, to: f64, secs: u64) -> RateStage {
        RateStage {
            from,
            to,
            duration: Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_ramp_is_followed_then_its_end_is_held() {
        let stages = [stage(2.0, 4.0, 10), stage(0.0, 0.0, 5)];
        assert_eq!(held_rate(&stages, 5.0), (3.0, Some(10.0)));
        assert_eq!(held_rate(&stages, 12.0), (0.0, Some(15.0)));
        assert_eq!(held_rate(&stages, 99.0), (0.0, None));
        assert_eq!(held_rate(&[stage(3.0, 3.0, 20)], 60.0), (3.0, None));
    }

    #[test]
    fn clients_are_held_at_the_last_stage() {
        let stages = [
            ClientStage {
                clients: 2,
                duration: Duration::from_secs(5),
            },
            ClientStage {
                clients: 7,
                duration: Duration::from_secs(5),
            },
        ];
        assert_eq!(held_clients(&stages, 1.0), 2);
        assert_eq!(held_clients(&stages, 6.0), 7);
        assert_eq!(held_clients(&stages, 600.0), 7);
    }

    #[test]
    fn a_knob_is_shared_by_its_clones() {
        let k = Knob::default();
        let seen = k.watch();
        k.clone().set_rate(9.0);
        k.pause(true);
        assert_eq!(
            *seen.borrow(),
            Setting {
                rate: Some(9.0),
                clients: None,
                paused: true
            }
        );
    }
}
