//! The modelled network between services, checked: `network.zones`, the
//! standing `network.links` (always in force) and the link faults of the
//! `faults:` list (in force for their window). A link joins two ends (a
//! service, one replica `name#i`, a zone or `*`), one way (`->`, the
//! caller's packets to the callee) or both (`<->`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dist::Dist;

/// Everything the topology says about the network; empty means loopback.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Zone name → its services, in file order.
    pub zones: BTreeMap<String, Vec<String>>,
    /// Links always in force, in file order.
    pub links: Vec<Link>,
    /// Link faults of the `faults:` list, in file order.
    pub faults: Vec<LinkFault>,
}

impl Network {
    /// Whether a run needs hosts of their own (namespaces) for its replicas:
    /// any zone, standing link or link fault.
    pub fn in_use(&self) -> bool {
        !self.zones.is_empty() || !self.links.is_empty() || !self.faults.is_empty()
    }
}

/// A link and what it does to the packets crossing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub from: LinkEnd,
    pub to: LinkEnd,
    /// `<->`: shaped both ways; `->`: the caller's packets only.
    pub both_ways: bool,
    pub shape: LinkShape,
}

impl Link {
    /// `api -> db`, `east <-> west`: as the file writes it.
    pub fn path(&self) -> String {
        let arrow = if self.both_ways { "<->" } else { "->" };
        format!("{} {arrow} {}", self.from, self.to)
    }
}

/// A link shaped for a window of the run (a `faults:` item with `link`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkFault {
    /// From the start of load.
    pub at: Duration,
    /// How long it lasts; `None`: until the load ends.
    pub duration: Option<Duration>,
    pub link: Link,
}

/// One end of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkEnd {
    /// Every replica of a service.
    Service(String),
    /// One replica, `name#i`.
    Replica(String, u32),
    /// Every replica of every service of a zone.
    Zone(String),
    /// Every replica of every service.
    Any,
}

impl LinkEnd {
    /// Whether replica `index` of `service` (in `zone`, if any) is this end.
    pub fn holds(&self, service: &str, index: u32, zones: &BTreeMap<String, Vec<String>>) -> bool {
        match self {
            LinkEnd::Service(s) => s == service,
            LinkEnd::Replica(s, i) => s == service && *i == index,
            LinkEnd::Zone(z) => zones
                .get(z)
                .is_some_and(|members| members.iter().any(|m| m == service)),
            LinkEnd::Any => true,
        }
    }
}

impl std::fmt::Display for LinkEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkEnd::Service(s) | LinkEnd::Zone(s) => f.write_str(s),
            LinkEnd::Replica(s, i) => write!(f, "{s}#{i}"),
            LinkEnd::Any => f.write_str("*"),
        }
    }
}

/// What a link does to its packets; every field unset is a perfect link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkShape {
    /// Added one way per packet.
    pub delay: Option<Dist>,
    /// Spread around `delay`.
    pub jitter: Option<Duration>,
    /// Share of packets dropped, 0.0..=1.0.
    pub loss: Option<f64>,
    /// Bits per second.
    pub bandwidth: Option<u64>,
    /// Every packet dropped.
    pub partition: bool,
}

impl LinkShape {
    /// Two shapes in force on one link at once: delays add, losses
    /// compound, the narrower bandwidth wins, a partition is a partition.
    pub fn and(&self, other: &LinkShape) -> LinkShape {
        let mean = |d: &Option<Dist>| d.as_ref().map_or(Duration::ZERO, Dist::mean);
        let delay = match (&self.delay, &other.delay) {
            (None, None) => None,
            (Some(d), None) | (None, Some(d)) => Some(*d),
            (a, b) => Some(Dist::Const(mean(a) + mean(b))),
        };
        let jitter = match (self.jitter, other.jitter) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
        };
        let loss = match (self.loss, other.loss) {
            (None, None) => None,
            (a, b) => Some(1.0 - (1.0 - a.unwrap_or(0.0)) * (1.0 - b.unwrap_or(0.0))),
        };
        let bandwidth = match (self.bandwidth, other.bandwidth) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        LinkShape {
            delay,
            jitter,
            loss,
            bandwidth,
            partition: self.partition || other.partition,
        }
    }
}

impl std::fmt::Display for LinkShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.partition {
            parts.push("partition".to_string());
        }
        if let Some(d) = &self.delay {
            let ms = d.mean().as_secs_f64() * 1e3;
            match d {
                Dist::Const(_) => parts.push(format!("delay {ms}ms")),
                _ => parts.push(format!("delay {ms}ms on average")),
            }
        }
        if let Some(j) = self.jitter {
            parts.push(format!("jitter {}ms", j.as_secs_f64() * 1e3));
        }
        if let Some(l) = self.loss {
            parts.push(format!("loss {}%", l * 100.0));
        }
        if let Some(b) = self.bandwidth {
            parts.push(format!("bandwidth {}", bits(b)));
        }
        f.write_str(&parts.join(", "))
    }
}

/// `1mbit`, `250kbit`: a rate as the file writes it.
pub fn bits(per_s: u64) -> String {
    match per_s {
        b if b >= 1_000_000_000 && b % 1_000_000_000 == 0 => format!("{}gbit", b / 1_000_000_000),
        b if b >= 1_000_000 && b % 1_000_000 == 0 => format!("{}mbit", b / 1_000_000),
        b if b % 1000 == 0 => format!("{}kbit", b / 1000),
        b => format!("{b}bit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_in_force_together_add_delay_and_compound_loss() {
        let a = LinkShape {
            delay: Some(Dist::Const(Duration::from_millis(2))),
            loss: Some(0.1),
            bandwidth: Some(10_000_000),
            ..Default::default()
        };
        let b = LinkShape {
            delay: Some(Dist::Const(Duration::from_millis(50))),
            loss: Some(0.1),
            bandwidth: Some(1_000_000),
            ..Default::default()
        };
        let c = a.and(&b);
        assert_eq!(c.delay, Some(Dist::Const(Duration::from_millis(52))));
        assert!((c.loss.unwrap() - 0.19).abs() < 1e-9);
        assert_eq!(c.bandwidth, Some(1_000_000));
        assert!(!c.partition);
        assert_eq!(bits(1_000_000), "1mbit");
        assert_eq!(bits(250_000), "250kbit");
    }
}
