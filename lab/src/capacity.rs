//! A service's workers and queue limit changed on every one of its running
//! replicas, over `Control/SetCapacity`: no restart, requests held keep
//! their place.

use std::net::SocketAddr;

use topolab_proto::v1::SetCapacityRequest;

/// Tells each replica at `addrs` its new `workers` and `queue`; the
/// replicas that could not be told (a killed one), with why.
pub async fn set(addrs: &[SocketAddr], workers: u32, queue: Option<u32>) -> Vec<String> {
    crate::tell::each(addrs, |mut c| async move {
        c.set_capacity(SetCapacityRequest { workers, queue })
            .await?;
        Ok(())
    })
    .await
}
