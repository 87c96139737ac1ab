//! Links shaped by the caller, in user space, for replicas in containers
//! (Swarm, compose, Kubernetes). No qdisc can delay a packet where netem is
//! missing from the kernel, and setting one would need NET_ADMIN; so a
//! replica shapes its own outgoing connections instead: every connection to
//! a callee's replica passes through two pumps (the request's way and the
//! answer's way), and each write is held, paced or stalled by the same rule
//! the local wire applies to frames ([`topolab_network::shaping::Pace`],
//! links picked by [`topolab_network::plan::shape_between`]).
//!
//! Bytes on a TCP stream cannot be dropped, so a loss is the stall TCP's
//! repair would cost ([`repair`]: a tail-loss probe, and the retransmission
//! timeout when the draw loses the repair too); a partition holds every byte until it is lifted and refuses
//! new connections, and the callee's side refuses connections from a
//! replica it is cut from ([`Links::refuses`], by the caller's address as
//! DNS lists it), so a partition holds both ways whoever calls. When a
//! link names a replica (`name#i`), each replica at the other end is asked
//! its index once (`Control/Stats`), so `db#1` is the replica that calls
//! itself that, wherever DNS sorts its address; otherwise (and until it
//! answers) it is numbered by its place in the sorted DNS answer.

use parking_lot::RwLock;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};
use topolab_model::{LinkEnd, LinkShape, Network};
use topolab_network::plan::shape_between;
use topolab_network::shaping::{Fate, Pace, repair};
use topolab_proto::v1::StatsRequest;
use topolab_proto::v1::control_client::ControlClient;

use crate::discovery::Discovery;
use crate::shutdown::Shutdown;
use crate::spec::ReplicaSpec;

/// How often held bytes look again whether a partition is lifted.
const RECHECK: Duration = Duration::from_millis(5);
/// Half of tokio's timer resolution (see the writer in [`pump`]).
const TIMER_ROUNDING: Duration = Duration::from_micros(500);
/// How much one read of a pump takes at most (one write shaped as a unit).
const CHUNK: usize = 64 * 1024;
/// The in-process pipe between the gRPC client and the pumps.
const PIPE: usize = 256 * 1024;

/// The links this replica's calls cross: the topology's network, this
/// replica's place in it, and the link faults in force now.
#[derive(Debug)]
pub struct Links {
    network: Network,
    service: String,
    index: u32,
    active: RwLock<BTreeSet<usize>>,
    seed: u64,
    /// Every replica of the topology by address, as DNS lists them, and
    /// whether its index is its own answer (not its DNS place).
    replicas: RwLock<HashMap<IpAddr, (String, u32, bool)>>,
}

impl Links {
    /// The links of the replica `spec` describes, when it finds its callees
    /// by DNS (in a container) and its topology models a network; `None`
    /// otherwise (locally the launcher's wire shapes the frames).
    pub fn for_spec(spec: &ReplicaSpec) -> Option<Arc<Links>> {
        (spec.discovery.is_some() && spec.topology.network.in_use()).then(|| {
            Arc::new(Links {
                network: spec.topology.network.clone(),
                service: spec.service.clone(),
                index: spec.index,
                active: RwLock::default(),
                seed: spec.seed,
                replicas: RwLock::default(),
            })
        })
    }

    /// Learns every replica's address by `discovery` now and again every
    /// `discovery.every` until `shutdown`, so that [`Links::refuses`] knows
    /// who connects; and, when a link names a replica, each one's index.
    pub fn learn_replicas(
        self: &Arc<Self>,
        services: Vec<String>,
        discovery: Discovery,
        shutdown: Shutdown,
    ) {
        let links = self.clone();
        let ask = self.names_replicas();
        tokio::spawn(async move {
            loop {
                let known = links.replicas.read().clone();
                let mut found = HashMap::new();
                for s in &services {
                    let Ok(addrs) = discovery.resolve(s).await else {
                        continue;
                    };
                    for (i, a) in addrs.iter().enumerate() {
                        let id = match known.get(&a.ip()) {
                            Some(k) if k.0 == *s && k.2 => k.clone(),
                            _ if ask => match index_of(*a).await {
                                Some(index) => (s.clone(), index, true),
                                None => (s.clone(), i as u32, false),
                            },
                            _ => (s.clone(), i as u32, false),
                        };
                        found.insert(a.ip(), id);
                    }
                }
                if !found.is_empty() {
                    *links.replicas.write() = found;
                }
                tokio::select! {
                    () = shutdown.wait() => return,
                    () = tokio::time::sleep(discovery.every) => {}
                }
            }
        });
    }

    /// Whether any link names a replica (`name#i`): only then do indices
    /// matter beyond DNS order.
    fn names_replicas(&self) -> bool {
        let n = &self.network;
        n.links
            .iter()
            .chain(n.faults.iter().map(|f| &f.link))
            .any(|l| matches!(l.from, LinkEnd::Replica(..)) || matches!(l.to, LinkEnd::Replica(..)))
    }

    /// The index the replica at `ip` gave, if it has.
    fn known_index(&self, ip: IpAddr) -> Option<u32> {
        self.replicas
            .read()
            .get(&ip)
            .and_then(|(_, i, own)| own.then_some(*i))
    }

    /// Whether a connection from `ip` crosses a partition: a replica of the
    /// topology this one is cut from (either way). Others (the load driver,
    /// a replica not yet resolved) are let in.
    pub fn refuses(&self, ip: IpAddr) -> bool {
        let Some((service, index, _)) = self.replicas.read().get(&ip).cloned() else {
            return false;
        };
        let refused = self.cut(&service, index);
        if refused {
            tracing::debug!(%ip, %service, index, "refused: partitioned");
        }
        refused
    }

    /// The link faults in force now (indices into the network's faults).
    pub fn set_active(&self, active: BTreeSet<usize>) {
        *self.active.write() = active;
    }

    /// What this replica's bytes to `callee#index` meet now (`back`: the
    /// callee's bytes to this replica).
    fn shape(&self, callee: &str, index: u32, back: bool) -> LinkShape {
        let active = self.active.read();
        let me = (self.service.as_str(), self.index);
        let them = (callee, index);
        if back {
            shape_between(&self.network, &active, them, me)
        } else {
            shape_between(&self.network, &active, me, them)
        }
    }

    fn cut(&self, callee: &str, index: u32) -> bool {
        self.shape(callee, index, false).partition || self.shape(callee, index, true).partition
    }

    /// A lazily connected channel to `addr` (replica `index` of `callee`)
    /// whose connections are shaped by these links.
    pub fn channel(
        self: &Arc<Self>,
        endpoint: Endpoint,
        callee: &str,
        index: usize,
        addr: SocketAddr,
    ) -> Channel {
        let links = self.clone();
        let callee = callee.to_string();
        let index = index as u32;
        endpoint.connect_with_connector_lazy(tower::service_fn(move |_| {
            let (links, callee) = (links.clone(), callee.clone());
            async move { links.connect(callee, index, addr).await }
        }))
    }

    async fn connect(
        self: Arc<Self>,
        callee: String,
        index: u32,
        addr: SocketAddr,
    ) -> std::io::Result<TokioIo<tokio::io::DuplexStream>> {
        let index = self.known_index(addr.ip()).unwrap_or(index);
        if self.cut(&callee, index) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                format!("partitioned from {callee}#{index}"),
            ));
        }
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let (near, far) = tokio::io::duplex(PIPE);
        let (tcp_r, tcp_w) = tcp.into_split();
        let (far_r, far_w) = tokio::io::split(far);
        let seed = self.seed ^ u64::from(addr.port()) ^ u64::from(index) << 32;
        let way = Way {
            links: self.clone(),
            callee: callee.clone(),
            index,
        };
        pump(far_r, tcp_w, way.clone(), false, seed);
        pump(tcp_r, far_w, way, true, seed.rotate_left(17));
        Ok(TokioIo::new(near))
    }
}

/// The index the replica at `addr` says it has (its `Control/Stats`).
async fn index_of(addr: SocketAddr) -> Option<u32> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(1))
        .connect()
        .await
        .ok()?;
    let reply = ControlClient::new(channel)
        .stats(StatsRequest {})
        .await
        .ok()?;
    Some(reply.into_inner().replica)
}

/// One connection's ends, as its pumps look its links up.
#[derive(Debug, Clone)]
struct Way {
    links: Arc<Links>,
    callee: String,
    index: u32,
}

impl Way {
    fn shape(&self, back: bool) -> LinkShape {
        self.links.shape(&self.callee, self.index, back)
    }
}

/// Moves bytes from `from` to `to` on two tasks: the reader gives each
/// read its departure (so writes in flight overlap, as packets on a path
/// do), the writer sends them in order when due.
fn pump<R, W>(mut from: R, mut to: W, way: Way, back: bool, seed: u64)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer_way = way.clone();
    tokio::spawn(async move {
        let mut pace = Pace::new(way.shape(back));
        let mut rng = StdRng::seed_from_u64(seed);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let depart = departure(&mut pace, &way, back, n, &mut rng).await;
            if tx.send((depart, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some((at, bytes)) = rx.recv().await {
            // tokio's timer rounds a deadline up to its next millisecond:
            // bytes due now (an unshaped way) are not put through it, and
            // held bytes ask half a millisecond early, so they leave within
            // half a millisecond of when they are due rather than up to one
            // late.
            if at > tokio::time::Instant::now() {
                tokio::time::sleep_until(at - TIMER_ROUNDING).await;
            }
            // A partition begun while these bytes were in flight holds them.
            while writer_way.shape(back).partition {
                tokio::time::sleep(RECHECK).await;
            }
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
}

/// When a write of `len` bytes read now leaves: after a partition is
/// lifted, after the retransmission stalls its losses cost, and after the
/// link's pacing and delay.
async fn departure(
    pace: &mut Pace,
    way: &Way,
    back: bool,
    len: usize,
    rng: &mut StdRng,
) -> tokio::time::Instant {
    let mut losses = 0;
    let mut stall = Duration::ZERO;
    loop {
        let shape = way.shape(back);
        if shape != pace.shape {
            pace.reshape(shape);
        }
        let now = tokio::time::Instant::now();
        match pace.fate(now.into_std() + stall, len, rng) {
            Fate::Departs(at) => return tokio::time::Instant::from_std(at),
            Fate::Cut => tokio::time::sleep(RECHECK).await,
            Fate::Lost => {
                losses += 1;
                let delay = pace.shape.delay.map_or(Duration::ZERO, |d| d.mean());
                stall += repair(losses, delay);
            }
        }
    }
}

#[cfg(test)]
mod tests;
