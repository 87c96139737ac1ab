//! The faults timeline of a run: each fault applied at its `at` (from the
//! start of load) and cleared after its `for`, or when the load ends. `slow`
//! and `errors` go to the replicas over `Control/SetFault`; `kill` is SIGKILL
//! and `pause` SIGSTOP (SIGCONT to clear), sent by whatever runs the replicas
//! ([`Processes`]: the local fleet, or a container engine). Every step is
//! printed as it happens and recorded for `summary.json`.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Endpoint;
use topolab_model::{Fault, FaultAction, Topology};
use topolab_proto::v1::SetFaultRequest;
use topolab_proto::v1::control_client::ControlClient;
use topolab_results::summary::round3;

use crate::supervisor::{Fleet, ReplicaId};

/// One fault as it ran; the type belongs to `summary.json`'s owner.
pub use rustix::process::Signal;
pub use topolab_results::summary::FaultRecord;

/// Whatever runs the replicas, as `kill` and `pause` faults reach them.
pub trait Processes: Send + Sync {
    /// Sends `signal` (SIGKILL, SIGSTOP, SIGCONT) to the live replicas of
    /// `service` (all, or replica `index`); returns those it reached.
    fn signal<'a>(
        &'a self,
        service: &'a str,
        index: Option<u32>,
        signal: Signal,
    ) -> BoxFuture<'a, Vec<ReplicaId>>;

    /// The replicas of `services` that whatever runs them started again
    /// (a Swarm's restart policy), each with when, in seconds after
    /// `since_unix_us`, the start of load. The local fleet's own keeper
    /// counts its restarts as it makes them, so by default: none.
    fn restarts<'a>(
        &'a self,
        services: &'a [&'a str],
        since_unix_us: u64,
    ) -> BoxFuture<'a, Vec<(ReplicaId, f64)>> {
        let _ = (services, since_unix_us);
        Box::pin(std::future::ready(Vec::new()))
    }
}

impl Processes for Mutex<Fleet> {
    fn signal<'a>(
        &'a self,
        service: &'a str,
        index: Option<u32>,
        signal: Signal,
    ) -> BoxFuture<'a, Vec<ReplicaId>> {
        let reached = self.lock().signal(service, index, signal);
        Box::pin(std::future::ready(reached))
    }
}

/// The timeline running beside the load.
pub struct Timeline {
    done: watch::Sender<bool>,
    task: JoinHandle<Vec<FaultRecord>>,
}

impl Timeline {
    /// Starts applying `topology.faults` against `begin`.
    pub fn start(
        topology: &Topology,
        fleet: Arc<dyn Processes>,
        peers: BTreeMap<String, Vec<SocketAddr>>,
        begin: Instant,
        verbose: bool,
    ) -> Self {
        let (done, rx) = watch::channel(false);
        let runner = Runner {
            faults: topology.faults.clone(),
            fleet,
            peers,
            begin,
            verbose,
            records: Vec::new(),
            active: BTreeMap::new(),
        };
        Timeline {
            done,
            task: tokio::spawn(runner.run(rx)),
        }
    }

    /// The load has ended: lifts what is still in force, and returns the records.
    pub async fn finish(self) -> Vec<FaultRecord> {
        let _ = self.done.send(true);
        self.task.await.unwrap_or_default()
    }
}

struct Runner {
    faults: Vec<Fault>,
    fleet: Arc<dyn Processes>,
    peers: BTreeMap<String, Vec<SocketAddr>>,
    begin: Instant,
    verbose: bool,
    records: Vec<FaultRecord>,
    /// Faults in force (by index) and the replicas each reached.
    active: BTreeMap<usize, Vec<ReplicaId>>,
}

impl Runner {
    async fn run(mut self, mut done: watch::Receiver<bool>) -> Vec<FaultRecord> {
        self.records = self.faults.iter().map(record).collect();
        let mut events: Vec<(Duration, bool, usize)> = Vec::new();
        for (i, f) in self.faults.iter().enumerate() {
            events.push((f.at, true, i));
            if let (Some(d), false) = (f.duration, f.action == FaultAction::Kill) {
                events.push((f.at + d, false, i));
            }
        }
        // At equal times, clear before applying.
        events.sort_by_key(|&(t, apply, i)| (t, apply, i));
        for (t, apply, i) in events {
            let due = tokio::time::Instant::from_std(self.begin + t);
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                _ = done.wait_for(|d| *d) => break,
            }
            if apply {
                self.apply(i).await;
            } else {
                self.clear(i).await;
            }
        }
        let _ = done.wait_for(|d| *d).await;
        let still: Vec<usize> = self.active.keys().copied().collect();
        for i in still {
            self.clear(i).await;
        }
        self.records
    }

    fn now(&self) -> f64 {
        round3(self.begin.elapsed().as_secs_f64())
    }

    fn say(&self, what: &str, i: usize) {
        if self.verbose {
            let r = &self.records[i];
            topolab_notice::say(format!(
                "[{:7.2} s] {what}: {} on {}",
                self.begin.elapsed().as_secs_f64(),
                r.fault,
                r.target
            ));
        }
    }

    async fn apply(&mut self, i: usize) {
        let f = self.faults[i].clone();
        let reached = match &f.action {
            FaultAction::Kill => self.signal(&f, Signal::KILL).await,
            FaultAction::Pause => self.signal(&f, Signal::STOP).await,
            FaultAction::Slow(_) | FaultAction::Errors(_) => self.targets(&f),
        };
        self.records[i].applied_s = Some(self.now());
        self.records[i].replicas = reached.iter().map(ToString::to_string).collect();
        if f.action != FaultAction::Kill {
            self.active.insert(i, reached.clone());
        }
        if matches!(f.action, FaultAction::Slow(_) | FaultAction::Errors(_)) {
            self.push_state(&reached, i).await;
        }
        self.say("fault", i);
    }

    async fn clear(&mut self, i: usize) {
        let Some(reached) = self.active.remove(&i) else {
            return;
        };
        match self.faults[i].action {
            FaultAction::Pause => {
                for r in &reached {
                    self.fleet
                        .signal(&r.service, Some(r.index), Signal::CONT)
                        .await;
                }
            }
            FaultAction::Slow(_) | FaultAction::Errors(_) => self.push_state(&reached, i).await,
            FaultAction::Kill => {}
        }
        self.records[i].cleared_s = Some(self.now());
        self.say("cleared", i);
    }

    /// The replicas a `slow` or `errors` fault is for.
    fn targets(&self, f: &Fault) -> Vec<ReplicaId> {
        let n = self.peers.get(&f.target.service).map_or(0, Vec::len) as u32;
        (0..n)
            .filter(|i| f.target.replica.is_none_or(|r| r == *i))
            .map(|index| ReplicaId {
                service: f.target.service.clone(),
                index,
            })
            .collect()
    }

    async fn signal(&self, f: &Fault, signal: Signal) -> Vec<ReplicaId> {
        self.fleet
            .signal(&f.target.service, f.target.replica, signal)
            .await
    }

    /// Tells each replica the combined `slow` and `errors` faults now in
    /// force on it (slow factors multiply; the latest `errors` wins).
    async fn push_state(&mut self, replicas: &[ReplicaId], cause: usize) {
        for r in replicas {
            let mut req = SetFaultRequest {
                slow: 1.0,
                ..Default::default()
            };
            for (j, on) in &self.active {
                if !on.contains(r) {
                    continue;
                }
                match &self.faults[*j].action {
                    FaultAction::Slow(x) => req.slow *= x,
                    FaultAction::Errors(e) => {
                        req.error_rate = e.rate;
                        req.error_code = e.status.0;
                    }
                    _ => {}
                }
            }
            let addr = self
                .peers
                .get(&r.service)
                .and_then(|a| a.get(r.index as usize));
            let sent = match addr {
                Some(a) => set_fault(*a, req).await,
                None => Err(anyhow::anyhow!("no address")),
            };
            if let Err(e) = sent {
                self.records[cause].problems.push(format!("{r}: {e:#}"));
            }
        }
    }
}

/// A fault as the file asks for it, before it has been applied.
pub fn record(f: &Fault) -> FaultRecord {
    FaultRecord {
        fault: f.action.to_string(),
        target: f.target.to_string(),
        at_s: round3(f.at.as_secs_f64()),
        for_s: f.duration.map(|d| round3(d.as_secs_f64())),
        applied_s: None,
        cleared_s: None,
        replicas: Vec::new(),
        problems: Vec::new(),
    }
}

/// Tells the replica at `addr` the `slow` and `errors` it suffers from now
/// (the lab sets them outside the timeline).
pub async fn set_fault(addr: SocketAddr, req: SetFaultRequest) -> anyhow::Result<()> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(1))
        .connect()
        .await?;
    ControlClient::new(channel).set_fault(req).await?;
    Ok(())
}
