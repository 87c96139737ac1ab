//! Where every replica lives on the run's network and which directed
//! replica pairs each link covers: pure, so it is tested without root.
//! Addresses are 10.X.0.0/16: the launcher's side of the bridge is
//! 10.X.0.1, replica k is 10.X.(1 + k/200).(10 + k%200).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use topolab_model::{Dist, Link, LinkShape, Network, Topology};

/// One replica as a host of the run's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub service: String,
    pub index: u32,
    pub addr: Ipv4Addr,
}

/// Every replica's address, and the network the topology describes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The X of 10.X.0.0/16.
    pub subnet: u8,
    /// Services in file order, replicas in index order.
    pub hosts: Vec<Host>,
    pub network: Network,
}

impl Plan {
    /// Addresses for every replica of `topology` in 10.`subnet`.0.0/16.
    pub fn new(topology: &Topology, subnet: u8) -> Plan {
        let mut hosts = Vec::new();
        for s in &topology.services {
            for index in 0..s.replicas {
                let k = hosts.len();
                hosts.push(Host {
                    service: s.name.clone(),
                    index,
                    addr: Ipv4Addr::new(10, subnet, 1 + (k / 200) as u8, 10 + (k % 200) as u8),
                });
            }
        }
        Plan {
            subnet,
            hosts,
            network: topology.network.clone(),
        }
    }

    /// The launcher's address on the bridge: where replicas reach it.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, 1)
    }

    /// The host of replica `index` of `service`.
    pub fn host(&self, service: &str, index: u32) -> Option<usize> {
        self.hosts
            .iter()
            .position(|h| h.service == service && h.index == index)
    }

    /// The directed (sender, receiver) host pairs whose packets `link`
    /// shapes: from its first end to its second, and back for `<->`.
    pub fn pairs(&self, link: &Link) -> Vec<(usize, usize)> {
        let n = self.hosts.len();
        (0..n)
            .flat_map(|a| (0..n).map(move |b| (a, b)))
            .filter(|&pair| self.covers(link, pair))
            .collect()
    }

    /// Whether `link` shapes the packets host `a` sends host `b`.
    pub fn covers(&self, link: &Link, (a, b): (usize, usize)) -> bool {
        if a == b {
            return false;
        }
        let (ha, hb) = (&self.hosts[a], &self.hosts[b]);
        covers(
            &self.network,
            link,
            (&ha.service, ha.index),
            (&hb.service, hb.index),
        )
    }

    /// Every pair any standing link or link fault ever shapes, by sender:
    /// the classes each sender's egress gets once, at the start.
    pub fn shaped(&self) -> BTreeMap<usize, Vec<usize>> {
        let mut out: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        let links = self
            .network
            .links
            .iter()
            .chain(self.network.faults.iter().map(|f| &f.link));
        for link in links {
            for (a, b) in self.pairs(link) {
                out.entry(a).or_default().insert(b);
            }
        }
        out.into_iter()
            .map(|(a, bs)| (a, bs.into_iter().collect()))
            .collect()
    }

    /// What the pair's packets meet with the link faults `active` (indices
    /// into `network.faults`) in force: the standing links, then the faults.
    pub fn shape_of(&self, active: &BTreeSet<usize>, (a, b): (usize, usize)) -> LinkShape {
        if a == b {
            return LinkShape::default();
        }
        let (ha, hb) = (&self.hosts[a], &self.hosts[b]);
        shape_between(
            &self.network,
            active,
            (&ha.service, ha.index),
            (&hb.service, hb.index),
        )
    }
}

/// A replica as a link's end sees it: its service and index.
pub type End<'a> = (&'a str, u32);

/// Whether `link` shapes what replica `a` sends replica `b`: the one rule
/// for which packets a link covers, for the local wire and for the
/// in-replica shaping on Swarm alike.
pub fn covers(network: &Network, link: &Link, a: End<'_>, b: End<'_>) -> bool {
    let zones = &network.zones;
    let forward = link.from.holds(a.0, a.1, zones) && link.to.holds(b.0, b.1, zones);
    let back = link.both_ways && link.to.holds(a.0, a.1, zones) && link.from.holds(b.0, b.1, zones);
    forward || back
}

/// What `a`'s packets to `b` meet with the link faults `active` in force:
/// the standing links combined, then the active faults.
pub fn shape_between(
    network: &Network,
    active: &BTreeSet<usize>,
    a: End<'_>,
    b: End<'_>,
) -> LinkShape {
    let mut shape = LinkShape::default();
    let faults = active
        .iter()
        .filter_map(|i| network.faults.get(*i))
        .map(|f| &f.link);
    for link in network.links.iter().chain(faults) {
        if covers(network, link, a, b) {
            shape = shape.and(&link.shape);
        }
    }
    shape
}

/// The spread netem gives a delay: the link's `jitter` if set, else the
/// distribution's own standard deviation (netem draws from a normal table,
/// so `exp(20ms)` becomes 20ms ± 20ms: an approximation, documented).
pub fn spread(shape: &LinkShape) -> Duration {
    if let Some(j) = shape.jitter {
        return j;
    }
    match shape.delay {
        None | Some(Dist::Const(_)) => Duration::ZERO,
        Some(Dist::Exp { mean }) => mean,
        Some(Dist::Uniform { low, high }) => (high - low).div_f64(12f64.sqrt()),
        Some(Dist::Normal { sd, .. }) | Some(Dist::LogNormal { sd, .. }) => sd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name: t\nservices:\n  api:\n    replicas: 2\n    endpoints: { Get: { steps: [ { call: db/Q }, { call: cache/Q } ] } }\n  db:\n    endpoints: { Q: {} }\n  cache:\n    endpoints: { Q: {} }\nnetwork:\n  zones: { east: [api, cache], west: [db] }\n  links:\n    east <-> west: { delay: 2ms }\nfaults:\n  - { at: 1s, for: 1s, link: api#1 -> db, delay: 50ms }\n  - { at: 1s, for: 1s, link: \"* -> cache\", loss: 5% }\n";

    fn plan() -> Plan {
        let t = topolab_model::load_str("t.yaml", TEXT, &[])
            .unwrap()
            .topology;
        Plan::new(&t, 222)
    }

    #[test]
    fn every_replica_has_its_own_address() {
        let p = plan();
        let addrs: Vec<String> = p.hosts.iter().map(|h| h.addr.to_string()).collect();
        assert_eq!(
            addrs,
            ["10.222.1.10", "10.222.1.11", "10.222.1.12", "10.222.1.13"]
        );
        assert_eq!(p.gateway().to_string(), "10.222.0.1");
    }

    #[test]
    fn a_link_covers_its_pairs_and_no_others() {
        let p = plan();
        // api#0, api#1, db, cache = 0, 1, 2, 3
        assert_eq!(p.pairs(&p.network.faults[0].link), [(1, 2)]);
        assert_eq!(p.pairs(&p.network.faults[1].link), [(0, 3), (1, 3), (2, 3)]);
        assert_eq!(
            p.pairs(&p.network.links[0]),
            [(0, 2), (1, 2), (2, 0), (2, 1), (2, 3), (3, 2)]
        );
        let active: BTreeSet<usize> = [0].into();
        let hit = p.shape_of(&active, (1, 2));
        assert_eq!(hit.delay.map(|d| d.mean()), Some(Duration::from_millis(52)));
        let spared = p.shape_of(&active, (0, 2));
        assert_eq!(
            spared.delay.map(|d| d.mean()),
            Some(Duration::from_millis(2))
        );
        assert_eq!(p.shape_of(&active, (0, 3)), LinkShape::default());
    }
}
