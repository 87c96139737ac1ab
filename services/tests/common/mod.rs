//! Builds small topologies by hand and runs their replicas in-process, each on
//! its own 127.0.0.1:0 listener, the way the launcher runs them as processes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::task::JoinHandle;
use tonic::transport::Channel;
use topolab_model::{
    BackoffShape, Balance, Call, Deadlines, Discipline, Dist, Endpoint, ErrorInjection, Kind,
    OnError, Restart, ServeModel, Service, Settings, State, StatusCode, Step, Topology,
};
use topolab_proto::v1 as pb;
use topolab_proto::v1::control_client::ControlClient;
use topolab_proto::v1::replica_client::ReplicaClient;
use topolab_services::{ReplicaSpec, ServeError, Shutdown, serve};

pub fn service(name: &str, workers: u32, queue: Option<u32>, endpoints: Vec<Endpoint>) -> Service {
    Service {
        name: name.into(),
        replicas: 1,
        workers,
        queue,
        discipline: Discipline::Fifo,
        model: ServeModel::Blocking,
        balance: Balance::RoundRobin,
        endpoints,
        kind: Kind::Service,
        state: State::Stateless,
        session_miss: vec![],
        restart: Restart::Never,
        deadlines: Deadlines::Honor,
        updates: None,
    }
}

pub fn endpoint(name: &str, steps: Vec<Step>) -> Endpoint {
    Endpoint {
        name: name.into(),
        steps,
        response: 0,
        errors: None,
    }
}

pub fn with_errors(mut e: Endpoint, rate: f64, status: &str) -> Endpoint {
    e.errors = Some(ErrorInjection {
        rate,
        status: StatusCode::from_name(status).unwrap(),
    });
    e
}

pub fn work(d: Duration) -> Step {
    Step::Work(Dist::Const(d))
}

pub fn call(target: &str) -> Call {
    let (service, endpoint) = target.split_once('/').unwrap();
    Call {
        service: service.into(),
        endpoint: endpoint.into(),
        timeout: Duration::from_secs(5),
        retries: 0,
        backoff: None,
        probability: 1.0,
        times: 1,
        request: 0,
        on_error: OnError::Fail,
        retry_budget: None,
        backoff_shape: BackoffShape::default(),
        breaker: None,
    }
}

pub fn topology(services: Vec<Service>) -> Topology {
    Topology {
        name: "test".into(),
        description: None,
        services,
        load: vec![],
        settings: Settings {
            seed: Some(7),
            timeout: Duration::from_secs(1),
            sample_every: Duration::from_millis(100),
            trace: 1.0,
            trace_budget: 256 << 20,
            warmup: Duration::ZERO,
        },
        faults: vec![],
        network: Default::default(),
    }
}

/// Every replica of a topology, served in this process until dropped.
pub struct Cluster {
    pub peers: BTreeMap<String, Vec<SocketAddr>>,
    pub shutdown: Shutdown,
    pub tasks: Vec<JoinHandle<Result<(), ServeError>>>,
}

impl Cluster {
    pub async fn start(topology: Topology) -> Cluster {
        let mut listeners = Vec::new();
        let mut peers = BTreeMap::new();
        for s in &topology.services {
            for index in 0..s.replicas {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                peers
                    .entry(s.name.clone())
                    .or_insert_with(Vec::new)
                    .push(l.local_addr().unwrap());
                listeners.push((s.name.clone(), index, l));
            }
        }
        let shutdown = Shutdown::new();
        let tasks = listeners
            .into_iter()
            .map(|(service, index, listener)| {
                let spec = ReplicaSpec {
                    topology: topology.clone(),
                    service,
                    index,
                    peers: peers.clone(),
                    seed: 7,
                    otlp_endpoints: Vec::new(),
                    metrics: None,
                    discovery: None,
                    load_start_unix_us: None,
                };
                tokio::spawn(serve(spec, listener, shutdown.clone()))
            })
            .collect();
        Cluster {
            peers,
            shutdown,
            tasks,
        }
    }

    pub fn addr(&self, service: &str, index: usize) -> SocketAddr {
        self.peers[service][index]
    }

    pub async fn client(&self, service: &str) -> ReplicaClient<Channel> {
        ReplicaClient::new(channel(self.addr(service, 0)).await)
    }

    pub async fn stats(&self, service: &str, index: usize) -> pb::StatsReply {
        let mut c = ControlClient::new(channel(self.addr(service, index)).await);
        c.stats(pb::StatsRequest {}).await.unwrap().into_inner()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub async fn channel(addr: SocketAddr) -> Channel {
    // Retry briefly: the server task may not have started accepting yet
    // (the listener is bound, so connecting waits in the backlog at worst).
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

pub fn request(endpoint: &str) -> pb::CallRequest {
    pb::CallRequest {
        endpoint: endpoint.into(),
        payload: vec![],
        session: String::new(),
        ..Default::default()
    }
}

/// The endpoint's figures, and the invariant the launcher relies on.
pub fn endpoint_stats<'a>(s: &'a pb::StatsReply, endpoint: &str) -> &'a pb::EndpointStats {
    let e = s.endpoints.iter().find(|e| e.endpoint == endpoint).unwrap();
    let errors: u64 = e.errors.values().sum();
    assert_eq!(
        e.requests,
        e.ok + e.rejected + errors,
        "invariant broken: {e:?}"
    );
    e
}

pub fn histogram(bytes: &[u8]) -> hdrhistogram::Histogram<u64> {
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .unwrap()
}
