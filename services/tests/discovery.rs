//! A replica that finds its callees by DNS (as in a container) rather than
//! from the launcher's address book: a caller given only a name and a port
//! reaches the callee listening there, and serves /metrics where told.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use topolab_model::Step;
use topolab_services::discovery::Discovery;
use topolab_services::{ReplicaSpec, Shutdown, serve};

#[tokio::test]
async fn a_caller_finds_its_callee_by_name_and_serves_metrics() {
    let topology = topology(vec![
        service(
            "front",
            2,
            None,
            vec![endpoint("Get", vec![Step::Call(call("back/Read"))])],
        ),
        service(
            "back",
            2,
            None,
            vec![endpoint("Read", vec![work(Duration::from_millis(1))])],
        ),
    ]);
    let back = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let back_addr = back.local_addr().unwrap();
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_addr = front.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let spec = |service: &str| ReplicaSpec {
        topology: topology.clone(),
        service: service.into(),
        index: 0,
        peers: BTreeMap::new(),
        seed: 7,
        otlp_endpoints: vec![],
        metrics: Some("127.0.0.1:0".into()),
        // "localhost" names every callee here: the callee's port is the one
        // all replicas listen on, as in a container.
        load_start_unix_us: None,
        discovery: Some(Discovery {
            name: "localhost".into(),
            port: back_addr.port(),
            every: Duration::from_millis(200),
        }),
    };
    tokio::spawn(serve(spec("back"), back, shutdown.clone()));
    tokio::spawn(serve(spec("front"), front, shutdown.clone()));

    let mut client =
        topolab_proto::v1::replica_client::ReplicaClient::new(channel(front_addr).await);
    let mut ok = 0;
    for _ in 0..20 {
        if client.call(request("Get")).await.is_ok() {
            ok += 1;
        }
    }
    // `localhost` may also name ::1 on some machines, where nothing
    // listens (round robin keeps trying it): count what reached the callee
    // rather than demand all 20.
    let mut control =
        topolab_proto::v1::control_client::ControlClient::new(channel(back_addr).await);
    let stats = control
        .stats(topolab_proto::v1::StatsRequest {})
        .await
        .unwrap()
        .into_inner();
    let read = endpoint_stats(&stats, "Read");
    assert!(ok >= 10, "{ok}/20 calls through the discovered callee");
    assert_eq!(read.ok, ok, "every OK call reached the callee");
    assert!(!stats.metrics_addr.is_empty(), "metrics served");
    shutdown.trigger();
}
