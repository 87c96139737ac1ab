//! Where each replica serves Prometheus `/metrics`: every replica binds its
//! own metrics port (the kernel picks it) and tells it in `Control/Stats`,
//! asked once all are healthy, so `run` and `up` can list the addresses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tonic::transport::Endpoint;
use topolab_proto::v1::StatsRequest;
use topolab_proto::v1::control_client::ControlClient;

/// How long one replica may take to say where its metrics are.
const ASK_LIMIT: Duration = Duration::from_secs(2);

/// `(service#index, http://ADDR/metrics)` for every replica that serves
/// metrics, in service and index order; a replica that does not answer is
/// left out (the run goes on without its address).
pub async fn metrics_urls(peers: &BTreeMap<String, Vec<SocketAddr>>) -> Vec<(String, String)> {
    let asks = peers.iter().flat_map(|(service, addrs)| {
        addrs.iter().enumerate().map(move |(i, addr)| async move {
            let url = tokio::time::timeout(ASK_LIMIT, ask(*addr)).await.ok()??;
            Some((format!("{service}#{i}"), url))
        })
    });
    futures::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn ask(addr: SocketAddr) -> Option<String> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    let reply = ControlClient::new(channel)
        .stats(StatsRequest {})
        .await
        .ok()?
        .into_inner();
    (!reply.metrics_addr.is_empty()).then(|| format!("http://{}/metrics", reply.metrics_addr))
}
