//! The replica's side doors: health, reflection, unknown endpoints, and a
//! clean stop on `Control/Shutdown`.

mod common;

use std::time::Duration;

use common::*;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use topolab_proto::v1 as pb;
use topolab_proto::v1::control_client::ControlClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_serving_for_the_server_and_the_replica_service() {
    let cluster = Cluster::start(topology(vec![service(
        "a",
        1,
        None,
        vec![endpoint("X", vec![])],
    )]))
    .await;
    let mut health = HealthClient::new(channel(cluster.addr("a", 0)).await);
    for name in ["", "topolab.v1.Replica"] {
        let r = health
            .check(HealthCheckRequest {
                service: name.into(),
            })
            .await
            .unwrap();
        assert_eq!(r.into_inner().status(), ServingStatus::Serving, "{name:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_endpoint_is_not_found_and_names_the_known_ones() {
    let cluster = Cluster::start(topology(vec![service(
        "a",
        1,
        None,
        vec![endpoint("Get", vec![]), endpoint("Put", vec![])],
    )]))
    .await;
    let err = cluster
        .client("a")
        .await
        .call(request("Gte"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("Get, Put"), "{}", err.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_then_stops_serving() {
    let mut cluster = Cluster::start(topology(vec![service(
        "a",
        1,
        None,
        vec![endpoint("X", vec![])],
    )]))
    .await;
    let mut control = ControlClient::new(channel(cluster.addr("a", 0)).await);
    control.shutdown(pb::ShutdownRequest {}).await.unwrap();
    let task = cluster.tasks.pop().unwrap();
    let r = tokio::time::timeout(Duration::from_millis(3000), task)
        .await
        .expect("serve returned after Shutdown");
    r.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(cluster.addr("a", 0))
            .await
            .is_err()
    );
}
