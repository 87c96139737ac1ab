//! What a service is and how its replicas live, beyond workers and queues:
//! an ordinary service or a load-balancer hop, whether replicas keep
//! sessions, whether a dead replica is restarted, and whether replicas heed
//! their callers' deadlines.

use serde::{Deserialize, Serialize};

use crate::model::Balance;

/// What a service is: ordinary, or a load-balancer hop in front of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Service,
    /// A process of its own that forwards each request to one replica of
    /// `backend` picked by `policy`; its endpoints mirror the backend's.
    Balancer {
        backend: String,
        policy: Balance,
    },
}

/// Whether replicas remember their callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Stateless,
    /// Each replica remembers, in memory, the session keys it has served;
    /// an unseen key runs the service's `session_miss` steps first.
    Sessions,
}

/// What the launcher does when a replica's process dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    Never,
    /// Start a fresh process (empty memory) on the same address.
    Always,
}

/// Whether a replica heeds its callers' deadlines (load shedding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadlines {
    /// Drop a queued request whose caller's deadline passed, stop working on
    /// one whose caller went away, and cut calls to the time left.
    Honor,
    /// Serve every admitted request to the end, as servers that ignore
    /// deadlines and cancellation do: the work for callers that gave up is
    /// wasted, which is what turns a slowdown into lasting overload.
    Ignore,
}
