//! Link faults for replicas that shape their own connections (in
//! containers, where no wire of the launcher carries their packets and the
//! kernel may have no netem): at each step of the link faults' timeline,
//! every replica is told over `Control/SetLinks` which link faults are in
//! force, and each works out what its own connections meet (see
//! `topolab_services::shaped`). Every replica is told, not only the
//! callers a link names: a `<->` link is shaped by whichever end calls.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use tonic::transport::Endpoint;
use topolab_model::Network;
use topolab_network::plan::covers;
use topolab_network::timeline::{LinkTarget, Reached};
use topolab_proto::v1::SetLinksRequest;
use topolab_proto::v1::control_client::ControlClient;

/// The replicas of a run, by service in index order, and their network.
pub struct Replicas {
    pub network: Network,
    pub peers: BTreeMap<String, Vec<SocketAddr>>,
}

impl Replicas {
    /// `service#i` of every replica whose traffic to another replica the
    /// link fault `i` shapes.
    fn senders(&self, i: usize) -> Vec<String> {
        let Some(f) = self.network.faults.get(i) else {
            return Vec::new();
        };
        let all: Vec<(&str, u32)> = self
            .peers
            .iter()
            .flat_map(|(s, a)| (0..a.len() as u32).map(move |i| (s.as_str(), i)))
            .collect();
        all.iter()
            .filter(|a| {
                all.iter()
                    .any(|b| a != &b && covers(&self.network, &f.link, **a, *b))
            })
            .map(|(s, i)| format!("{s}#{i}"))
            .collect()
    }
}

impl LinkTarget for Replicas {
    fn set<'a>(
        &'a self,
        active: &'a BTreeSet<usize>,
        changed: usize,
    ) -> Pin<Box<dyn Future<Output = Reached> + Send + 'a>> {
        Box::pin(async move {
            let req = SetLinksRequest {
                active: active.iter().map(|i| *i as u32).collect(),
            };
            let req = &req;
            let sends = self.peers.iter().flat_map(|(s, addrs)| {
                addrs.iter().enumerate().map(move |(i, a)| {
                    let req = req.clone();
                    async move { (format!("{s}#{i}"), set_links(*a, req).await) }
                })
            });
            let problems = futures::future::join_all(sends)
                .await
                .into_iter()
                .filter_map(|(id, r)| r.err().map(|e| format!("{id}: {e:#}")))
                .collect();
            (self.senders(changed), problems)
        })
    }
}

async fn set_links(addr: SocketAddr, req: SetLinksRequest) -> anyhow::Result<()> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(1))
        .connect()
        .await?;
    ControlClient::new(channel).set_links(req).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicas(faults: &str) -> Replicas {
        let text = format!(
            "name: t\nservices:\n  api:\n    replicas: 2\n    endpoints: {{ Get: {{ steps: [ {{ call: db/Q }} ] }} }}\n  db:\n    endpoints: {{ Q: {{}} }}\nfaults:\n{faults}"
        );
        let t = topolab_model::load_str("t.yaml", &text, &[])
            .unwrap()
            .topology;
        let addr = |i: u8| SocketAddr::from(([10, 0, 0, i], 50051));
        Replicas {
            network: t.network,
            peers: [
                ("api".to_string(), vec![addr(1), addr(2)]),
                ("db".to_string(), vec![addr(3)]),
            ]
            .into(),
        }
    }

    #[test]
    fn a_link_faults_senders_are_the_replicas_whose_traffic_it_shapes() {
        let r = replicas(
            "  - { at: 1s, link: api#1 -> db, delay: 5ms }\n  - { at: 1s, link: api <-> db, partition: true }\n",
        );
        assert_eq!(r.senders(0), ["api#1"]);
        assert_eq!(r.senders(1), ["api#0", "api#1", "db#0"]);
        assert!(r.senders(2).is_empty(), "no such fault");
    }
}
