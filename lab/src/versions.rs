//! How often a service's data changes (`updates:`), changed while it runs:
//! every replica of the service, and the launcher's copy of the timeline
//! that the following clients' staleness is measured against, are retimed
//! alike over `Control/SetUpdates`, from a moment just ahead so that all of
//! them switch at the same instant.

use std::net::SocketAddr;
use std::time::Duration;

use topolab_model::{Dist, Topology};
use topolab_proto::v1::SetUpdatesRequest;

use topolab_load::LiveLoad;

/// How far ahead of now the new timing starts: time to tell every replica.
pub const LEAD: Duration = Duration::from_millis(200);

/// Retimes `service`'s versions from `from` (after the start of load): its
/// replicas at `addrs` and the recorders of the generators that follow its
/// data. The replicas that could not be told (a killed one), with why.
pub async fn retime(
    topology: &Topology,
    load: &LiveLoad,
    addrs: &[SocketAddr],
    service: &str,
    (gaps_text, gaps): (&str, Dist),
    from: Duration,
    change: u64,
) -> Vec<String> {
    for g in &topology.load {
        let follows = topology
            .data_of(&g.target.service)
            .is_some_and(|d| d.name == service);
        if let (true, Some(r)) = (follows, load.get(&g.name))
            && let Some(f) = r.lock().freshness.as_mut()
        {
            f.retime(from, gaps, change);
        }
    }
    let from_us = from.as_micros() as u64;
    crate::tell::each(addrs, |mut c| async move {
        c.set_updates(SetUpdatesRequest {
            gaps: gaps_text.to_string(),
            from_us,
            change,
        })
        .await?;
        Ok(())
    })
    .await
}
