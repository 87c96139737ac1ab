//! How a caller's deadline travels and what it stops. A request's deadline
//! is its arrival plus the timeout its caller sent (`grpc-timeout`), unless
//! its service has `deadlines: ignore`; each attempt of a `call` step gets
//! the step's `timeout` cut to what is left of it, and none at all when
//! nothing is left; a request whose deadline passed before a worker took it
//! is dropped unserved. Shared so that a simulated request gives up exactly
//! where a replica's does.

use topolab_model::Deadlines;

use crate::Nanos;

/// No deadline: the request may take as long as it takes.
pub const NONE: Nanos = Nanos::MAX;

/// The deadline of a request that arrived at `arrival` carrying `timeout`
/// (`None`: its caller set none), at a service that treats deadlines by
/// `policy`.
#[inline]
pub fn on_arrival(arrival: Nanos, timeout: Option<Nanos>, policy: Deadlines) -> Nanos {
    match (timeout, policy) {
        (Some(t), Deadlines::Honor) => arrival.saturating_add(t),
        (None, _) | (_, Deadlines::Ignore) => NONE,
    }
}

/// Whether `deadline` has passed at `now`: the caller has given up, so no
/// work should start for it.
#[inline]
pub fn passed(deadline: Nanos, now: Nanos) -> bool {
    now >= deadline
}

/// The timeout of an attempt made at `now` by a `call` step whose own
/// `timeout` is `step`, for a request due by `deadline`: the step's, cut to
/// what is left. `None` when nothing is left: the call fails with
/// DEADLINE_EXCEEDED without an attempt.
#[inline]
pub fn attempt_timeout(step: Nanos, deadline: Nanos, now: Nanos) -> Option<Nanos> {
    let t = step.min(deadline.saturating_sub(now));
    (t > 0).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_starts_at_arrival_unless_ignored_or_unset() {
        assert_eq!(on_arrival(100, Some(50), Deadlines::Honor), 150);
        assert_eq!(on_arrival(100, Some(50), Deadlines::Ignore), NONE);
        assert_eq!(on_arrival(100, None, Deadlines::Honor), NONE);
        assert_eq!(on_arrival(100, Some(NONE), Deadlines::Honor), NONE);
    }

    #[test]
    fn a_deadline_has_passed_from_its_instant_on() {
        assert!(!passed(150, 149));
        assert!(passed(150, 150));
        assert!(!passed(NONE, u64::MAX - 1));
    }

    #[test]
    fn an_attempt_gets_the_step_timeout_cut_to_what_is_left() {
        assert_eq!(attempt_timeout(30, 150, 100), Some(30));
        assert_eq!(attempt_timeout(80, 150, 100), Some(50));
        assert_eq!(attempt_timeout(80, NONE, 100), Some(80));
        assert_eq!(attempt_timeout(80, 150, 150), None);
        assert_eq!(attempt_timeout(80, 150, 170), None);
        assert_eq!(attempt_timeout(0, NONE, 0), None);
    }
}
