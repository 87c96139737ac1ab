//! Replicas found by DNS (in containers) that come back at a new address: a
//! `restart: always` replica the Swarm started again is a new task with an
//! address of its own. While the load runs, every [`Discovery::every`] the
//! names of the services with `updates` or `restart: always` are resolved
//! again: every replica listed of a service with `updates` is told the
//! load's start (one that began already ignores it), and a new address of a
//! `restart: always` service is asked its index and takes that index's place
//! in the address book, which the generators follow ([`Moved`]) and the
//! figures are collected from once the load is over.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use topolab_model::{Restart, Topology};
use topolab_proto::v1::StatsRequest;
use topolab_proto::v1::control_client::ControlClient;
use topolab_services::discovery::Discovery;

use crate::begin;

/// Every service's replicas by index.
pub type Peers = BTreeMap<String, Vec<SocketAddr>>;

/// Told a service's replicas by index each time one moved.
pub type Moved = Box<dyn Fn(&str, &[SocketAddr]) + Send + Sync>;

/// The watch beside the load; [`Rejoin::stop`] ends it.
pub struct Rejoin {
    stop: watch::Sender<bool>,
    task: JoinHandle<Peers>,
}

/// What the watch knows between rounds.
struct Watch {
    discovery: Discovery,
    /// Services with `updates`: told the start every round.
    changing: Vec<String>,
    /// Services with `restart: always`: followed to new addresses.
    restarting: Vec<String>,
    peers: Peers,
    start_us: u64,
    moved: Moved,
    channels: BTreeMap<SocketAddr, ControlClient<Channel>>,
}

impl Rejoin {
    /// Starts watching `peers` (found by `discovery`) from the load's start
    /// `start_us`; `None` when no service has `updates` or `restart: always`.
    pub fn start(
        topology: &Topology,
        discovery: Discovery,
        peers: Peers,
        start_us: u64,
        moved: Moved,
    ) -> Option<Rejoin> {
        let changing: Vec<String> = begin::changing(topology)
            .into_iter()
            .map(String::from)
            .collect();
        let restarting: Vec<String> = topology
            .services
            .iter()
            .filter(|s| s.restart == Restart::Always)
            .map(|s| s.name.clone())
            .collect();
        if changing.is_empty() && restarting.is_empty() {
            return None;
        }
        let mut watch = Watch {
            discovery,
            changing,
            restarting,
            peers,
            start_us,
            moved,
            channels: BTreeMap::new(),
        };
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(watch.discovery.every) => {}
                    _ = stopped.changed() => break,
                }
                watch.round().await;
            }
            // Once more: a replica back just before the load ended.
            watch.round().await;
            watch.peers
        });
        Some(Rejoin { stop, task })
    }

    /// Ends the watch; every service's replicas where they are now.
    pub async fn stop(self) -> Option<Peers> {
        let _ = self.stop.send(true);
        self.task.await.ok()
    }
}

impl Watch {
    async fn round(&mut self) {
        let watched: Vec<String> = self
            .changing
            .iter()
            .chain(&self.restarting)
            .cloned()
            .collect();
        for s in watched {
            // An empty or failed answer (tasks being rescheduled) changes nothing.
            let listed = self.discovery.resolve(&s).await.unwrap_or_default();
            if self.restarting.contains(&s) {
                self.follow(&s, &listed).await;
            }
            if self.changing.contains(&s) {
                self.tell(&listed).await;
            }
        }
    }

    /// Puts each address of `service` not yet known at the index its
    /// replica reports.
    async fn follow(&mut self, service: &str, listed: &[SocketAddr]) {
        let Some(known) = self.peers.get_mut(service) else {
            return;
        };
        let new: Vec<SocketAddr> = listed
            .iter()
            .filter(|a| !known.contains(a))
            .copied()
            .collect();
        let mut changed = false;
        for addr in &new {
            if let Some(i) = index_of(*addr).await
                && let Some(slot) = known.get_mut(i as usize)
            {
                *slot = *addr;
                changed = true;
            }
        }
        if changed {
            (self.moved)(service, known);
        }
    }

    /// Tells every replica at `listed` the load's start.
    async fn tell(&mut self, listed: &[SocketAddr]) {
        let mut sends = Vec::new();
        for addr in listed {
            let client = match self.channels.get(addr) {
                Some(c) => c.clone(),
                None => match begin::connect(*addr) {
                    Ok(c) => self.channels.entry(*addr).or_insert(c).clone(),
                    Err(_) => continue,
                },
            };
            let start_us = self.start_us;
            sends.push(async move {
                let mut client = client;
                // Dead or not yet serving: the next round asks again.
                let _ = begin::send(&mut client, start_us).await;
            });
        }
        futures::future::join_all(sends).await;
    }
}

/// The index the replica at `addr` reports (`Control/Stats`), if it answers.
pub async fn index_of(addr: SocketAddr) -> Option<u32> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
        .ok()?;
    let reply = ControlClient::new(channel)
        .stats(StatsRequest {})
        .await
        .ok()?;
    Some(reply.into_inner().replica)
}
