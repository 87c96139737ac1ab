//! What one caller's calls to one callee endpoint came to: attempts and how
//! each ended, where they went, retries and the breaker.

use std::collections::BTreeMap;

/// Calls from one service (its replicas together) to one callee
/// `service/Endpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFigures {
    /// Attempts sent, retries included.
    pub attempts: u64,
    /// How attempts ended, by gRPC code name (`OK`, `UNAVAILABLE`, ...).
    pub outcomes: BTreeMap<String, u64>,
    /// Attempts sent to each replica of the callee, by index.
    pub per_replica: Vec<u64>,
    pub retries: u64,
    /// Retries the budget refused.
    pub retries_denied: u64,
    /// Attempts the open breaker refused without sending.
    pub breaker_rejected: u64,
    /// Times the breaker opened.
    pub breaker_opened: u64,
}

impl CallFigures {
    /// Adds another replica's calls to the same callee.
    pub fn merge(&mut self, other: &CallFigures) {
        self.attempts += other.attempts;
        for (code, n) in &other.outcomes {
            *self.outcomes.entry(code.clone()).or_default() += n;
        }
        if self.per_replica.len() < other.per_replica.len() {
            self.per_replica.resize(other.per_replica.len(), 0);
        }
        for (slot, n) in self.per_replica.iter_mut().zip(&other.per_replica) {
            *slot += n;
        }
        self.retries += other.retries;
        self.retries_denied += other.retries_denied;
        self.breaker_rejected += other.breaker_rejected;
        self.breaker_opened += other.breaker_opened;
    }
}

impl CallFigures {
    /// Takes a baseline taken earlier of the same caller off (the warmup).
    /// A replica restarted since counts from zero again: counts saturate.
    pub fn subtract(&mut self, b: &CallFigures) {
        self.attempts = self.attempts.saturating_sub(b.attempts);
        for (code, n) in &b.outcomes {
            if let Some(v) = self.outcomes.get_mut(code) {
                *v = v.saturating_sub(*n);
            }
        }
        self.outcomes.retain(|_, v| *v > 0);
        for (v, n) in self.per_replica.iter_mut().zip(&b.per_replica) {
            *v = v.saturating_sub(*n);
        }
        self.retries = self.retries.saturating_sub(b.retries);
        self.retries_denied = self.retries_denied.saturating_sub(b.retries_denied);
        self.breaker_rejected = self.breaker_rejected.saturating_sub(b.breaker_rejected);
        self.breaker_opened = self.breaker_opened.saturating_sub(b.breaker_opened);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_every_count_and_widens_the_replicas() {
        let mut a = CallFigures {
            attempts: 3,
            outcomes: [("OK".to_string(), 3)].into(),
            per_replica: vec![2, 1],
            ..Default::default()
        };
        let b = CallFigures {
            attempts: 4,
            outcomes: [("OK".to_string(), 2), ("UNAVAILABLE".to_string(), 2)].into(),
            per_replica: vec![1, 1, 2],
            retries: 1,
            retries_denied: 1,
            breaker_rejected: 2,
            breaker_opened: 1,
        };
        a.merge(&b);
        assert_eq!(a.attempts, 7);
        assert_eq!(a.outcomes["OK"], 5);
        assert_eq!(a.outcomes["UNAVAILABLE"], 2);
        assert_eq!(a.per_replica, vec![3, 2, 2]);
        assert_eq!(
            (
                a.retries,
                a.retries_denied,
                a.breaker_rejected,
                a.breaker_opened
            ),
            (1, 1, 2, 1)
        );
        a.subtract(&b);
        assert_eq!(a.attempts, 3);
        assert_eq!(a.outcomes, [("OK".to_string(), 3)].into());
        assert_eq!(a.per_replica, vec![2, 1, 0]);
    }
}
