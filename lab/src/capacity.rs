//! A service's workers and queue limit changed on every one of its running
//! replicas, over `Control/SetCapacity`: no restart, requests held keep
//! their place.

use std::net::SocketAddr;
use std::time::Duration;

use tonic::transport::Endpoint;
use topolab_proto::v1::SetCapacityRequest;
use topolab_proto::v1::control_client::ControlClient;

/// Tells each replica at `addrs` its new `workers` and `queue`; the
/// replicas that could not be told (a killed one), with why.
pub async fn set(addrs: &[SocketAddr], workers: u32, queue: Option<u32>) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let told = async {
            let channel = Endpoint::from_shared(format!("http://{addr}"))?
                .connect_timeout(Duration::from_millis(500))
                .timeout(Duration::from_secs(1))
                .connect()
                .await?;
            ControlClient::new(channel)
                .set_capacity(SetCapacityRequest { workers, queue })
                .await?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        };
        if let Err(e) = told.await {
            problems.push(format!("#{i}: {e}"));
        }
    }
    problems
}
