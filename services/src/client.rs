//! The replica as a client: one lazily connected channel per callee replica,
//! kept for the whole run, a balancing policy to pick one per attempt, the
//! caller's deadline passed on in `grpc-timeout`, and a count of every attempt
//! and its outcome per callee endpoint.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use topolab_model::{Balance, Step, Topology};
use topolab_proto::v1 as pb;
use topolab_proto::v1::replica_client::ReplicaClient;

use crate::stats::code_name;
use crate::trace::{ClientHop, Exporter, SpanContext, context};

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
    /// Where CLIENT spans go, and this replica's name (their process).
    pub tracer: Option<(&'a Exporter, &'a str)>,
}

/// Channels to every replica this replica may call, and per-callee counters.
#[derive(Debug)]
pub struct Clients {
    pools: HashMap<String, Pool>,
    counters: Mutex<BTreeMap<String, Counter>>,
    rng: Mutex<StdRng>,
}

#[derive(Debug)]
struct Pool {
    balance: Balance,
    peers: Vec<Peer>,
    next: AtomicUsize,
}

#[derive(Debug)]
struct Peer {
    /// `service#index`, for CLIENT spans.
    name: String,
    client: ReplicaClient<Channel>,
    /// Attempts outstanding on this replica, for `least_requests` and `p2c`.
    in_flight: Arc<AtomicU32>,
}

#[derive(Debug, Default)]
struct Counter {
    attempts: u64,
    outcomes: BTreeMap<&'static str, u64>,
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
        let mut callees = Vec::new();
        if let Some(s) = topology.service(service) {
            for ep in &s.endpoints {
                collect_callees(&ep.steps, &mut callees);
            }
        }
        let mut pools = HashMap::new();
        for callee in callees {
            if pools.contains_key(callee) {
                continue;
            }
            let balance = topology
                .service(callee)
                .map_or(Balance::RoundRobin, |s| s.balance);
            let mut list = Vec::new();
            for (index, addr) in peers.get(callee).into_iter().flatten().enumerate() {
                let channel = Endpoint::from_shared(format!("http://{addr}"))
                    .map_err(|source| ClientError::BadAddress {
                        service: callee.to_string(),
                        index,
                        addr: *addr,
                        source,
                    })?
                    .tcp_nodelay(true)
                    .connect_lazy();
                list.push(Peer {
                    name: format!("{callee}#{index}"),
                    client: ReplicaClient::new(channel),
                    in_flight: Arc::default(),
                });
            }
            pools.insert(
                callee.to_string(),
                Pool {
                    balance,
                    peers: list,
                    next: AtomicUsize::new(0),
                },
            );
        }
        Ok(Self {
            pools,
            counters: Mutex::default(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        })
    }

    /// Makes one attempt and counts it. A callee whose deadline passes is
    /// reported as `DEADLINE_EXCEEDED` (tonic itself says `CANCELLED`).
    pub async fn call(&self, a: Attempt<'_>) -> Result<pb::CallReply, Status> {
        let key = format!("{}/{}", a.service, a.endpoint);
        let result = self.attempt(a).await;
        let code = result.as_ref().map_or_else(|s| s.code(), |_| Code::Ok);
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let c = counters.entry(key).or_default();
        c.attempts += 1;
        *c.outcomes.entry(code_name(code)).or_default() += 1;
        result
    }

    async fn attempt(&self, a: Attempt<'_>) -> Result<pb::CallReply, Status> {
        let Some(peer) = self.pick(a.service, a.session) else {
            return Err(Status::unavailable(format!(
                "no replica of {} to call",
                a.service
            )));
        };
        peer.in_flight.fetch_add(1, Ordering::Relaxed);
        let _outstanding = Outstanding(peer.in_flight.clone());
        let mut req = tonic::Request::new(pb::CallRequest {
            endpoint: a.endpoint.to_string(),
            payload: vec![0; a.request as usize],
            session: a.session.to_string(),
        });
        req.set_timeout(a.timeout);
        let hop = match (a.parent, a.tracer) {
            (Some(parent), Some((exporter, caller))) if parent.sampled => Some(ClientHop::start(
                exporter, parent, caller, a.service, a.endpoint, &peer.name, a.attempt, a.timeout,
            )),
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
        let mut client = peer.client.clone();
        // tonic enforces `set_timeout` only once connected; a frozen peer
        // must time out too, hence the outer timeout.
        let result = match tokio::time::timeout(a.timeout, client.call(req)).await {
            Ok(r) => r.map(tonic::Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded("deadline exceeded")),
        };
        let result = result.map_err(|s| {
            if s.code() == Code::Cancelled && start.elapsed() >= a.timeout {
                Status::deadline_exceeded(format!(
                    "{}/{}: deadline exceeded",
                    a.service, a.endpoint
                ))
            } else {
                s
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

    fn pick(&self, service: &str, session: &str) -> Option<&Peer> {
        let pool = self.pools.get(service)?;
        let n = pool.peers.len();
        if n <= 1 {
            return pool.peers.first();
        }
        let rr = || pool.next.fetch_add(1, Ordering::Relaxed) % n;
        let load = |i: usize| pool.peers[i].in_flight.load(Ordering::Relaxed);
        let i = match pool.balance {
            Balance::RoundRobin => rr(),
            Balance::Random => self.rng().random_range(0..n),
            Balance::LeastRequests => {
                // Start at a rotating index so ties spread evenly.
                let start = rr();
                (0..n)
                    .map(|k| (start + k) % n)
                    .min_by_key(|&i| load(i))
                    .unwrap_or(start)
            }
            Balance::P2c => {
                let (x, y) = {
                    let mut rng = self.rng();
                    let x = rng.random_range(0..n);
                    (x, (x + rng.random_range(1..n)) % n)
                };
                if load(y) < load(x) { y } else { x }
            }
            Balance::Sticky if !session.is_empty() => {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                session.hash(&mut h);
                (h.finish() % n as u64) as usize
            }
            Balance::Sticky => rr(),
        };
        pool.peers.get(i)
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, StdRng> {
        self.rng.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Attempts and outcomes per callee endpoint, for `Control/Stats`.
    pub fn to_proto(&self) -> Vec<pb::CalleeStats> {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters
            .iter()
            .map(|(callee, c)| pb::CalleeStats {
                callee: callee.clone(),
                attempts: c.attempts,
                outcomes: c
                    .outcomes
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
            })
            .collect()
    }
}

/// Decrements a peer's outstanding count when the attempt ends, however it ends.
struct Outstanding(Arc<AtomicU32>);

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn collect_callees<'a>(steps: &'a [Step], out: &mut Vec<&'a str>) {
    for step in steps {
        match step {
            Step::Work(_) => {}
            Step::Call(c) => out.push(&c.service),
            Step::Parallel(branches) => branches.iter().for_each(|b| collect_callees(b, out)),
        }
    }
}
