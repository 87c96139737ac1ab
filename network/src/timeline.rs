//! The link faults of a run on their timeline: each put in force at its
//! `at` (from the start of load) and lifted after its `for` or when the
//! load ends, by re-shaping the pairs it covers with everything then in
//! force. Every step is printed as it happens and recorded for
//! `summary.json`, as the service faults are. What puts a change in force
//! is a [`LinkTarget`]: the local wire ([`Hosts`]), or the replicas
//! themselves where each shapes its own connections (on Swarm).

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use topolab_model::LinkFault;
use topolab_results::summary::{FaultRecord, round3};

use crate::Hosts;

/// What a change of the link faults in force reached: the replicas whose
/// traffic it shapes (`service#i`), and what failed on the way.
pub type Reached = (Vec<String>, Vec<String>);

/// Whatever shapes the links: told the link faults in force after fault
/// `changed` was applied or lifted.
pub trait LinkTarget: Send + Sync {
    fn set<'a>(
        &'a self,
        active: &'a BTreeSet<usize>,
        changed: usize,
    ) -> Pin<Box<dyn Future<Output = Reached> + Send + 'a>>;
}

impl LinkTarget for Hosts {
    fn set<'a>(
        &'a self,
        active: &'a BTreeSet<usize>,
        changed: usize,
    ) -> Pin<Box<dyn Future<Output = Reached> + Send + 'a>> {
        let plan = self.plan();
        let pairs = plan.pairs(&plan.network.faults[changed].link);
        let changes: Vec<_> = pairs
            .iter()
            .map(|&(a, b)| (a, b, plan.shape_of(active, (a, b))))
            .collect();
        let senders: BTreeSet<String> = pairs
            .iter()
            .map(|(a, _)| {
                let h = &plan.hosts[*a];
                format!("{}#{}", h.service, h.index)
            })
            .collect();
        self.reshape(&changes);
        Box::pin(std::future::ready((
            senders.into_iter().collect(),
            Vec::new(),
        )))
    }
}

/// The link faults' timeline running beside the load.
pub struct LinkTimeline {
    done: watch::Sender<bool>,
    task: JoinHandle<Vec<FaultRecord>>,
}

impl LinkTimeline {
    /// Starts applying the plan's link faults on the local wire against `begin`.
    pub fn start(hosts: Arc<Hosts>, begin: Instant, verbose: bool) -> Self {
        let faults = hosts.plan().network.faults.clone();
        Self::start_on(faults, hosts, begin, verbose)
    }

    /// Starts applying `faults` through `target` against `begin`.
    pub fn start_on(
        faults: Vec<LinkFault>,
        target: Arc<dyn LinkTarget>,
        begin: Instant,
        verbose: bool,
    ) -> Self {
        let (done, rx) = watch::channel(false);
        let runner = Runner {
            records: faults.iter().map(record).collect(),
            faults,
            target,
            begin,
            verbose,
            active: BTreeSet::new(),
        };
        LinkTimeline {
            done,
            task: tokio::spawn(runner.run(rx)),
        }
    }

    /// The load has ended: lifts what is still in force; the records.
    pub async fn finish(self) -> Vec<FaultRecord> {
        let _ = self.done.send(true);
        self.task.await.unwrap_or_default()
    }
}

/// A link fault as the file asks for it, before it is applied.
pub fn record(f: &LinkFault) -> FaultRecord {
    FaultRecord {
        fault: f.link.shape.to_string(),
        target: f.link.path(),
        at_s: round3(f.at.as_secs_f64()),
        for_s: f.duration.map(|d| round3(d.as_secs_f64())),
        applied_s: None,
        cleared_s: None,
        replicas: Vec::new(),
        problems: Vec::new(),
    }
}

struct Runner {
    faults: Vec<LinkFault>,
    target: Arc<dyn LinkTarget>,
    begin: Instant,
    verbose: bool,
    records: Vec<FaultRecord>,
    active: BTreeSet<usize>,
}

impl Runner {
    async fn run(mut self, mut done: watch::Receiver<bool>) -> Vec<FaultRecord> {
        let mut events: Vec<(Duration, bool, usize)> = Vec::new();
        for (i, f) in self.faults.iter().enumerate() {
            events.push((f.at, true, i));
            if let Some(d) = f.duration {
                events.push((f.at + d, false, i));
            }
        }
        // At equal times, lift before applying.
        events.sort_by_key(|&(t, apply, i)| (t, apply, i));
        for (t, apply, i) in events {
            let due = tokio::time::Instant::from_std(self.begin + t);
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                _ = done.wait_for(|d| *d) => break,
            }
            self.switch(i, apply).await;
        }
        let _ = done.wait_for(|d| *d).await;
        let still: Vec<usize> = self.active.iter().copied().collect();
        for i in still {
            self.switch(i, false).await;
        }
        self.records
    }

    /// Applies (or lifts) fault `i`: every pair it covers gets the shape of
    /// everything in force after the change.
    async fn switch(&mut self, i: usize, apply: bool) {
        if apply {
            self.active.insert(i);
        } else if !self.active.remove(&i) {
            return;
        }
        let (senders, problems) = self.target.set(&self.active, i).await;
        let now = round3(self.begin.elapsed().as_secs_f64());
        let r = &mut self.records[i];
        if apply {
            r.applied_s = Some(now);
            r.replicas = senders;
        } else {
            r.cleared_s = Some(now);
        }
        r.problems.extend(problems);
        if self.verbose {
            let what = if apply { "link fault" } else { "cleared" };
            topolab_notice::say(format!(
                "[{:7.2} s] {what}: {} on {}",
                self.begin.elapsed().as_secs_f64(),
                r.fault,
                r.target
            ));
        }
    }
}
