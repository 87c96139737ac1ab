//! Finding a callee's replicas by name, for replicas that run where the
//! launcher cannot hand out addresses (a Swarm stack, a Kubernetes namespace):
//! a DNS name that lists every replica (`tasks.<service>` on Swarm, a headless
//! Service on Kubernetes), resolved at start and again every [`Discovery::every`],
//! so the balancing policies see replicas come and go.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a replica finds its callees by DNS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// The host name of a service's replicas, `{service}` standing for the
    /// service's name: `tasks.{service}` on Swarm, `{service}` for a
    /// Kubernetes headless Service in the same namespace.
    pub name: String,
    /// The port every replica listens on.
    pub port: u16,
    /// How often the names are resolved again.
    #[serde(with = "millis")]
    pub every: Duration,
}

impl Discovery {
    /// The host name that lists `service`'s replicas.
    pub fn host(&self, service: &str) -> String {
        self.name.replace("{service}", service)
    }

    /// Every replica's address, sorted (the order callers number them in),
    /// or the resolver's error (a name without replicas is NXDOMAIN on Swarm).
    pub async fn resolve(&self, service: &str) -> std::io::Result<Vec<SocketAddr>> {
        let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host(service), self.port))
            .await?
            .collect();
        addrs.sort();
        addrs.dedup();
        Ok(addrs)
    }
}

/// How long a connection to a replica found by DNS (in a container) may
/// take to open before the call fails as UNAVAILABLE. A killed container's
/// address answers nothing (no host behind it refuses the connection, as
/// a dead local process's port does), so without a limit every call to it
/// would wait out its whole deadline; between containers a connection opens
/// in about a millisecond. Not for links shaped here (their delay is in the
/// handshake) nor for local replicas (a dead one refuses at once).
pub const CONNECT_LIMIT: Duration = Duration::from_millis(250);

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_a_name_to_sorted_addresses_on_the_port() {
        let d = Discovery {
            name: "{service}".into(),
            port: 4000,
            every: Duration::from_secs(1),
        };
        assert_eq!(d.host("localhost"), "localhost");
        let addrs = d.resolve("localhost").await.unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.port() == 4000 && a.ip().is_loopback())
        );
        assert!(addrs.windows(2).all(|w| w[0] < w[1]));
    }
}
