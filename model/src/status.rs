//! gRPC status codes by the names users write (`UNAVAILABLE`), independent of
//! tonic so the model crate stays free of the transport.

use serde::{Deserialize, Serialize};

/// A gRPC status code, stored as its numeric value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StatusCode(pub i32);

/// Every gRPC code name, indexed by its numeric value.
pub const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

impl StatusCode {
    /// Looks up a code by its gRPC name, e.g. `UNAVAILABLE`.
    pub fn from_name(name: &str) -> Option<Self> {
        CODE_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| StatusCode(i as i32))
    }

    /// The gRPC name of this code; unknown numbers read as `UNKNOWN`.
    pub fn name(self) -> &'static str {
        CODE_NAMES
            .get(self.0 as usize)
            .copied()
            .unwrap_or("UNKNOWN")
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (i, n) in CODE_NAMES.iter().enumerate() {
            let c = StatusCode::from_name(n).unwrap();
            assert_eq!(c.0, i as i32);
            assert_eq!(c.name(), *n);
        }
        assert_eq!(StatusCode::from_name("unavailable"), None);
    }
}
