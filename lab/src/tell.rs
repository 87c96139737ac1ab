//! One `Control` call to every running replica of a service, as the lab's
//! live changes make them (workers and queue, the data's timing): each
//! replica told on a fresh loopback connection, with short timeouts, and
//! the ones that could not be told (a killed one) listed with why.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use topolab_proto::v1::control_client::ControlClient;

/// A call that failed, as the lab says it.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Calls `call` on each replica at `addrs`; the failures, as `#i: why`.
pub async fn each<F, Fut>(addrs: &[SocketAddr], call: F) -> Vec<String>
where
    F: Fn(ControlClient<Channel>) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let mut problems = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let told = async {
            let channel = Endpoint::from_shared(format!("http://{addr}"))?
                .connect_timeout(Duration::from_millis(500))
                .timeout(Duration::from_secs(1))
                .connect()
                .await?;
            call(ControlClient::new(channel)).await
        };
        if let Err(e) = told.await {
            problems.push(format!("#{i}: {e}"));
        }
    }
    problems
}
