//! The replica as a client: one lazily connected channel per callee replica,
//! kept for the whole run, a balancing policy to pick one per attempt (see
//! [`crate::balance`]), the caller's deadline passed on in `grpc-timeout`, the
//! resilience guards per callee (see [`crate::resilience`]), and a count of
//! every attempt and its outcome per callee endpoint and replica. The replicas
//! of a callee are fixed (the launcher's address book) or found by DNS and
//! replaced as they change (see [`crate::discovery`]).

use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use topolab_model::{Balance, Call, Kind, Topology, calls};
use topolab_proto::v1 as pb;
use topolab_proto::v1::replica_client::ReplicaClient;

use crate::balance;
use crate::discovery::{CONNECT_LIMIT, Discovery};
use crate::resilience::Guard;
use crate::shaped::Links;
use crate::shutdown::Shutdown;
use crate::stats::code_name;
use crate::trace::{ClientHop, Exporter, SpanContext, context};
use crate::updates::LongPoll;

/// One call to make: which endpoint, with what, within how long.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub service: &'a str,
    pub endpoint: &'a str,
    /// Request payload size in bytes.
    pub request: u64,
    /// Session key passed down the chain.
    pub session: &'a str,
    /// This attempt's timeout (already cut to the caller's remaining deadline).
    pub timeout: Duration,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// The request's trace context, passed on to the callee: its SERVER
    /// span when sampled, else the caller's unsampled context (so nobody
    /// downstream starts a trace of its own for it).
    pub parent: Option<&'a SpanContext>,
    /// Where CLIENT spans go (the exporter's resource names their process).
    pub tracer: Option<&'a Exporter>,
    /// A long poll a balancer forwards: the callee holds it.
    pub long_poll: Option<LongPoll>,
    /// Counts the CLIENT spans started under `parent`.
    pub client_spans: &'a AtomicU32,
}

/// Channels to every replica this replica may call, and per-callee counters.
#[derive(Debug)]
pub struct Clients {
    pools: HashMap<String, Arc<Pool>>,
    counters: Mutex<BTreeMap<String, Counter>>,
    /// Retry budget and breaker per callee endpoint, made on first use.
    guards: Mutex<BTreeMap<String, Arc<Guard>>>,
    rng: Mutex<StdRng>,
    /// Links this replica shapes itself (in a container, with a network).
    links: Option<Arc<Links>>,
}

/// One callee's replicas as this caller sees them now.
#[derive(Debug)]
struct Pool {
    policy: Balance,
    members: RwLock<Arc<Members>>,
}

/// A set of replicas: replaced whole when discovery finds another set, so an
/// attempt keeps the set it picked from.
#[derive(Debug)]
struct Members {
    picker: balance::Pool,
    peers: Vec<ReplicaClient<Channel>>,
    addrs: Vec<SocketAddr>,
}

impl Pool {
    fn new(policy: Balance, callee: &str, addrs: &[SocketAddr]) -> Result<Self, ClientError> {
        let members = Members::build(policy, callee, addrs, None, None, false)?;
        Ok(Pool {
            policy,
            members: RwLock::new(Arc::new(members)),
        })
    }

    fn current(&self) -> Arc<Members> {
        self.members.read().clone()
    }

    /// Takes `addrs` as the callee's replicas if they differ from the current
    /// ones, keeping the connections to replicas still listed (`found`: by DNS).
    fn replace(
        &self,
        callee: &str,
        addrs: &[SocketAddr],
        links: Option<&Arc<Links>>,
        found: bool,
    ) -> Result<bool, ClientError> {
        let old = self.current();
        if old.addrs == addrs {
            return Ok(false);
        }
        let new = Members::build(self.policy, callee, addrs, Some(&old), links, found)?;
        *self.members.write() = Arc::new(new);
        Ok(true)
    }
}

impl Members {
    fn build(
        policy: Balance,
        callee: &str,
        addrs: &[SocketAddr],
        old: Option<&Members>,
        links: Option<&Arc<Links>>,
        found: bool,
    ) -> Result<Self, ClientError> {
        let mut peers = Vec::with_capacity(addrs.len());
        for (index, addr) in addrs.iter().enumerate() {
            let kept = old.and_then(|o| {
                let i = o.addrs.iter().position(|a| a == addr)?;
                Some(o.peers[i].clone())
            });
            let client = match kept {
                Some(c) => c,
                None => {
                    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
                        .map_err(|source| ClientError::BadAddress {
                            service: callee.to_string(),
                            index,
                            addr: *addr,
                            source,
                        })?
                        .tcp_nodelay(true);
                    ReplicaClient::new(match links {
                        Some(l) => l.channel(endpoint, callee, index, *addr),
                        None if found => endpoint.connect_timeout(CONNECT_LIMIT).connect_lazy(),
                        None => endpoint.connect_lazy(),
                    })
                }
            };
            peers.push(client);
        }
        Ok(Members {
            picker: balance::Pool::new(policy, addrs.len()),
            peers,
            addrs: addrs.to_vec(),
        })
    }
}

#[derive(Debug, Default)]
struct Counter {
    attempts: u64,
    outcomes: BTreeMap<&'static str, u64>,
    per_replica: Vec<u64>,
}

/// Why the clients could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{service}#{index} has an invalid address {addr}: {source}")]
    BadAddress {
        service: String,
        index: usize,
        addr: SocketAddr,
        source: tonic::transport::Error,
    },
}

impl Clients {
    /// Channels to every replica of every service that `service`'s steps call.
    /// Connections are made lazily, on first use, so peers may start in any order.
    pub fn new(
        topology: &Topology,
        service: &str,
        peers: &BTreeMap<String, Vec<SocketAddr>>,
        seed: u64,
    ) -> Result<Self, ClientError> {
        let callees = topology
            .service(service)
            .map(calls::callee_services)
            .unwrap_or_default();
        // A balancer picks its backend's replicas by its own `policy`.
        let policy = topology.service(service).and_then(|s| match &s.kind {
            Kind::Balancer { policy, .. } => Some(*policy),
            Kind::Service => None,
        });
        let mut pools = HashMap::new();
        for callee in callees {
            if pools.contains_key(callee) {
                continue;
            }
            let balance = policy.unwrap_or_else(|| {
                topology
                    .service(callee)
                    .map_or(Balance::RoundRobin, |s| s.balance)
            });
            let addrs = peers.get(callee).map_or(&[][..], Vec::as_slice);
            pools.insert(
                callee.to_string(),
                Arc::new(Pool::new(balance, callee, addrs)?),
            );
        }
        Ok(Self {
            pools,
            counters: Mutex::default(),
            guards: Mutex::default(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            links: None,
        })
    }

    /// The same clients, shaping the connections that discovery makes
    /// through `links` (see [`crate::shaped`]).
    pub fn shaped(mut self, links: Option<Arc<Links>>) -> Self {
        self.links = links;
        self
    }

    /// The links this replica shapes itself, if any.
    pub fn links(&self) -> Option<&Arc<Links>> {
        self.links.as_ref()
    }

    /// The retry budget and breaker for `call`'s callee endpoint, shared by
    /// every call step of this replica that calls it (the first one met
    /// sets them up).
    pub fn guard(&self, call: &Call) -> Arc<Guard> {
        let key = format!("{}/{}", call.service, call.endpoint);
        let mut guards = self.guards.lock();
        guards
            .entry(key)
            .or_insert_with(|| Arc::new(Guard::new(call)))
            .clone()
    }

    /// Makes one attempt and counts it. A callee whose deadline passes is
    /// reported as `DEADLINE_EXCEEDED` (tonic itself says `CANCELLED`).
    pub async fn call(&self, a: Attempt<'_>) -> Result<pb::CallReply, Status> {
        let key = format!("{}/{}", a.service, a.endpoint);
        let (result, replica) = self.attempt(a).await;
        let code = result.as_ref().map_or_else(|s| s.code(), |_| Code::Ok);
        let mut counters = self.counters.lock();
        let c = counters.entry(key).or_default();
        c.attempts += 1;
        *c.outcomes.entry(code_name(code)).or_default() += 1;
        if let Some(i) = replica {
            if c.per_replica.len() <= i {
                c.per_replica.resize(i + 1, 0);
            }
            c.per_replica[i] += 1;
        }
        result
    }

    /// Finds every callee's replicas by `discovery` now (before the replica
    /// serves, so its first calls have somewhere to go) and again every
    /// `discovery.every` until `shutdown`, on tasks of the current runtime.
    /// A failed lookup keeps the replicas last found (none at first: calls
    /// then fail with UNAVAILABLE, as calls to a service with no replica do).
    pub async fn discover(&self, discovery: &Discovery, shutdown: &Shutdown) {
        for (callee, pool) in &self.pools {
            refresh(discovery, callee, pool, self.links.as_ref()).await;
            let (callee, pool, links) = (callee.clone(), pool.clone(), self.links.clone());
            let (discovery, shutdown) = (discovery.clone(), shutdown.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = shutdown.wait() => return,
                        () = tokio::time::sleep(discovery.every) => {}
                    }
                    refresh(&discovery, &callee, &pool, links.as_ref()).await;
                }
            });
        }
    }

    /// Takes `addrs` as `callee`'s replicas (the lab's replicas up and
    /// down); `false` when this replica does not call `callee`.
    pub fn set_peers(&self, callee: &str, addrs: &[SocketAddr]) -> Result<bool, ClientError> {
        match self.pools.get(callee) {
            Some(pool) => pool
                .replace(callee, addrs, self.links.as_ref(), false)
                .map(|_| true),
            None => Ok(false),
        }
    }

    /// One attempt, and the index of the replica it went to.
    async fn attempt(&self, a: Attempt<'_>) -> (Result<pb::CallReply, Status>, Option<usize>) {
        let picked = self.pools.get(a.service).and_then(|pool| {
            let pool = pool.current();
            let i = pool.picker.pick(a.session, &mut *self.rng())?;
            Some((pool, i))
        });
        let Some((pool, i)) = picked else {
            let s = Status::unavailable(format!("no replica of {} to call", a.service));
            return (Err(s), None);
        };
        let _outstanding = pool.picker.start(i);
        let result = self.send(&pool.peers[i], i, pool.addrs[i], a).await;
        match &result {
            Ok(_) => pool.picker.answered(i),
            Err(s) if unreachable(s) => pool.picker.eject(i),
            Err(_) => {}
        }
        (result, Some(i))
    }

    async fn send(
        &self,
        peer: &ReplicaClient<Channel>,
        index: usize,
        addr: SocketAddr,
        a: Attempt<'_>,
    ) -> Result<pb::CallReply, Status> {
        let mut req = tonic::Request::new(pb::CallRequest {
            endpoint: a.endpoint.to_string(),
            payload: vec![0; a.request as usize],
            session: a.session.to_string(),
            known_version: a.long_poll.map_or(0, |lp| lp.known),
            long_poll_us: a.long_poll.map_or(0, |lp| lp.hold.as_micros() as u64),
        });
        req.set_timeout(a.timeout);
        let hop = match (a.parent, a.tracer) {
            (Some(parent), Some(exporter)) if parent.sampled => {
                a.client_spans.fetch_add(1, Ordering::Relaxed);
                let callee = format!("{}#{index}", a.service);
                Some(ClientHop::start(
                    exporter, parent, a.service, a.endpoint, &callee, a.attempt, a.timeout,
                ))
            }
            _ => None,
        };
        let propagate = hop
            .as_ref()
            .and_then(ClientHop::context)
            .or(a.parent.copied());
        if let Some(ctx) = propagate {
            context::inject(req.metadata_mut(), &ctx);
        }
        let start = Instant::now();
        let mut client = peer.clone();
        // tonic enforces `set_timeout` only once connected; a frozen peer
        // must time out too, hence the outer timeout.
        let result = match tokio::time::timeout(a.timeout, client.call(req)).await {
            Ok(r) => r.map(tonic::Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{}/{}: no answer within {:?}",
                a.service, a.endpoint, a.timeout
            ))),
        };
        let result = result.map_err(|s| {
            if s.code() == Code::Cancelled && start.elapsed() >= a.timeout {
                Status::deadline_exceeded(format!(
                    "{}/{}: deadline exceeded",
                    a.service, a.endpoint
                ))
            } else {
                crate::reason::explain(
                    s,
                    &format!("{}#{index}/{}", a.service, a.endpoint),
                    Some(addr),
                )
            }
        });
        if let Some(hop) = hop {
            match &result {
                Ok(_) => hop.finish(Code::Ok, ""),
                Err(s) => hop.finish(s.code(), s.message()),
            }
        }
        result
    }

    /// One replica of `service` picked by the policy, for a stream a
    /// balancer relays: its client, its index, its address, and its count of outstanding
    /// work (held while the stream is open, so `least_requests` and `p2c`
    /// spread streams too).
    pub fn pick_for_stream(
        &self,
        service: &str,
        session: &str,
    ) -> Option<(
        ReplicaClient<Channel>,
        usize,
        SocketAddr,
        balance::Outstanding,
    )> {
        let pool = self.pools.get(service)?.current();
        let i = pool.picker.pick(session, &mut *self.rng())?;
        Some((
            pool.peers[i].clone(),
            i,
            pool.addrs[i],
            pool.picker.start(i),
        ))
    }

    /// Replica `i` of `service` broke a stream or could not be reached:
    /// the policies that skip skip it for a while.
    pub fn eject(&self, service: &str, i: usize) {
        // Discovery may have replaced the set since: then `i` may be another
        // replica, or none (a skipped replica is tried again soon anyway).
        if let Some(pool) = self.pools.get(service).map(|p| p.current())
            && i < pool.peers.len()
        {
            pool.picker.eject(i);
        }
    }

    fn rng(&self) -> parking_lot::MutexGuard<'_, StdRng> {
        self.rng.lock()
    }

    /// Attempts and outcomes per callee endpoint, for `Control/Stats`.
    pub fn to_proto(&self) -> Vec<pb::CalleeStats> {
        let counters = self.counters.lock();
        let guards = self.guards.lock();
        let mut callees: Vec<&String> = counters.keys().chain(guards.keys()).collect();
        callees.sort();
        callees.dedup();
        callees
            .into_iter()
            .map(|callee| {
                let c = counters.get(callee);
                let (retries, retries_denied, breaker_rejected, breaker_opened) =
                    guards.get(callee).map_or((0, 0, 0, 0), |g| g.counts());
                pb::CalleeStats {
                    callee: callee.clone(),
                    attempts: c.map_or(0, |c| c.attempts),
                    outcomes: c
                        .into_iter()
                        .flat_map(|c| &c.outcomes)
                        .map(|(k, v)| (k.to_string(), *v))
                        .collect(),
                    per_replica: c.map(|c| c.per_replica.clone()).unwrap_or_default(),
                    retries,
                    retries_denied,
                    breaker_rejected,
                    breaker_opened,
                }
            })
            .collect()
    }
}

impl Clients {
    /// The breaker state of every callee endpoint that has a breaker, for
    /// `/metrics` (see [`Guard::breaker_state`]).
    pub fn breaker_states(&self) -> Vec<(String, u8)> {
        let guards = self.guards.lock();
        guards
            .iter()
            .filter_map(|(callee, g)| Some((callee.clone(), g.breaker_state()?)))
            .collect()
    }
}

/// Resolves `callee` once and takes what it finds.
async fn refresh(discovery: &Discovery, callee: &str, pool: &Pool, links: Option<&Arc<Links>>) {
    match discovery.resolve(callee).await {
        // An answer with no address (seen on Swarm while tasks are
        // rescheduled) keeps the set we have: calling a stale replica fails
        // like a dead one and the balancer ejects it, whereas an empty set
        // would fail every call with "no replica" until the next lookup.
        Ok(addrs) if addrs.is_empty() => {
            tracing::debug!(host = %discovery.host(callee), "lookup returned no address; keeping the known replicas")
        }
        Ok(addrs) => match pool.replace(callee, &addrs, links, true) {
            Ok(true) => tracing::info!(%callee, ?addrs, "replicas changed"),
            Ok(false) => {}
            Err(e) => tracing::warn!("{e}"),
        },
        Err(e) => tracing::debug!(host = %discovery.host(callee), "lookup failed: {e}"),
    }
}

/// Whether a failure means no replica answered (the connection was refused
/// or broke), as opposed to a replica answering with an error status: only
/// a replica's own answer carries gRPC response headers.
pub(crate) fn unreachable(s: &Status) -> bool {
    s.code() == Code::Unavailable && s.metadata().get("content-type").is_none()
}
#[cfg(test)]
mod tests;
