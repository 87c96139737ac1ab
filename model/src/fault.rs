//! The `faults` timeline, checked: what goes wrong (`slow`, `errors`,
//! `kill`, `pause`), on which service or replica, when and for how long.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::ErrorInjection;

/// One fault of the `faults` timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// From the start of load.
    pub at: Duration,
    /// How long it lasts; `None`: until the end of the run.
    pub duration: Option<Duration>,
    pub target: FaultTarget,
    pub action: FaultAction,
}

/// A service (all its replicas) or one replica, `db#1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultTarget {
    pub service: String,
    pub replica: Option<u32>,
}

impl std::fmt::Display for FaultTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.replica {
            Some(i) => write!(f, "{}#{i}", self.service),
            None => f.write_str(&self.service),
        }
    }
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// `work` steps take this many times longer.
    Slow(f64),
    /// Requests fail at this rate with this status.
    Errors(ErrorInjection),
    /// SIGKILL; `restart: always` brings a fresh process back.
    Kill,
    /// SIGSTOP, then SIGCONT when the fault ends.
    Pause,
}

impl std::fmt::Display for FaultAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultAction::Slow(x) => write!(f, "slow {x}x"),
            FaultAction::Errors(e) => write!(f, "errors {}% {}", e.rate * 100.0, e.status),
            FaultAction::Kill => f.write_str("kill"),
            FaultAction::Pause => f.write_str("pause"),
        }
    }
}
