//! The caller's deadline as it arrives in the `grpc-timeout` header, turned
//! into an instant at arrival, so a replica can tell when work would be for a
//! caller that already gave up, and can pass the rest of it down the chain.
//! The rules are `topolab_rules::deadline` (the simulator's too); this reads
//! the header and keeps the replica's instants, counting the rules' time
//! from the moment of each decision.

use std::time::Duration;

use tokio::time::Instant;
use topolab_model::Deadlines;
use topolab_rules::{Nanos, deadline};

/// The gRPC header that carries the caller's remaining time.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Parses a `grpc-timeout` value: at most 8 ASCII digits and one unit of
/// `H`, `M`, `S`, `m` (milli), `u` (micro), `n` (nano). `None` if malformed.
pub fn parse_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The instant by which the caller wants its answer, if it said so and this
/// replica's service honours deadlines (`policy`); a malformed header
/// counts as no deadline (as in gRPC's own servers).
pub fn from_metadata(
    md: &tonic::metadata::MetadataMap,
    arrival: Instant,
    policy: Deadlines,
) -> Option<Instant> {
    let timeout = md
        .get(GRPC_TIMEOUT)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_timeout)
        .map(nanos);
    // The rules' time counted from the arrival.
    from_rules(deadline::on_arrival(0, timeout, policy), arrival)
}

/// Whether the caller's `deadline` has passed: no work should start for it.
pub fn passed(deadline: Option<Instant>) -> bool {
    let now = Instant::now();
    deadline::passed(to_rules(deadline, now), 0)
}

/// The timeout of an attempt made now by a `call` step whose own timeout is
/// `step`, for a request due by `deadline`: the step's, cut to what is
/// left; `None` when nothing is left.
pub fn attempt_timeout(step: Duration, deadline: Option<Instant>) -> Option<Duration> {
    let now = Instant::now();
    deadline::attempt_timeout(nanos(step), to_rules(deadline, now), 0).map(Duration::from_nanos)
}

/// `deadline` in the rules' time counted from `origin` (before it: 0).
fn to_rules(deadline: Option<Instant>, origin: Instant) -> Nanos {
    deadline.map_or(deadline::NONE, |d| {
        nanos(d.saturating_duration_since(origin))
    })
}

/// A deadline in the rules' time counted from `origin`, as an instant.
fn from_rules(d: Nanos, origin: Instant) -> Option<Instant> {
    (d != deadline::NONE).then(|| origin + Duration::from_nanos(d))
}

fn nanos(d: Duration) -> Nanos {
    // Saturates at 584 years, which is as good as no deadline.
    d.as_nanos().min(u128::from(deadline::NONE - 1)) as Nanos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_timeout("1S"), Some(Duration::from_secs(1)));
        assert_eq!(parse_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout("1500u"), Some(Duration::from_micros(1500)));
        assert_eq!(
            parse_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        assert_eq!(parse_timeout("0m"), Some(Duration::ZERO));
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "",
            "m",
            "10",
            "10x",
            "123456789m",
            "-1m",
            "1.5S",
            " 1S",
            "1s",
            "é",
            "1é",
        ] {
            assert_eq!(parse_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn what_tonic_sends_round_trips_unless_the_service_ignores_it() {
        let mut req = tonic::Request::new(());
        req.set_timeout(Duration::from_millis(1234));
        let arrival = Instant::now();
        let d = from_metadata(req.metadata(), arrival, Deadlines::Honor).unwrap();
        assert_eq!(d - arrival, Duration::from_millis(1234));
        assert_eq!(
            from_metadata(req.metadata(), arrival, Deadlines::Ignore),
            None
        );
        let bare = tonic::Request::new(());
        assert_eq!(
            from_metadata(bare.metadata(), arrival, Deadlines::Honor),
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_gets_what_is_left_and_none_once_it_passed() {
        let step = Duration::from_millis(300);
        assert_eq!(attempt_timeout(step, None), Some(step));
        let deadline = Some(Instant::now() + Duration::from_millis(500));
        assert_eq!(attempt_timeout(step, deadline), Some(step));
        tokio::time::advance(Duration::from_millis(400)).await;
        assert_eq!(
            attempt_timeout(step, deadline),
            Some(Duration::from_millis(100))
        );
        assert!(!passed(deadline));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(attempt_timeout(step, deadline), None);
        assert!(passed(deadline));
        assert!(!passed(None));
    }
}
