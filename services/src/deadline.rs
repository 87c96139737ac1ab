//! The caller's deadline as it arrives in the `grpc-timeout` header, turned
//! into an instant at arrival, so a replica can tell when work would be for a
//! caller that already gave up, and can pass the rest of it down the chain.

use std::time::Duration;

use tokio::time::Instant;

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

/// The instant by which the caller wants its answer, if it said so; a
/// malformed header counts as no deadline (as in gRPC's own servers).
pub fn from_metadata(md: &tonic::metadata::MetadataMap, arrival: Instant) -> Option<Instant> {
    let value = md.get(GRPC_TIMEOUT)?.to_str().ok()?;
    parse_timeout(value).map(|d| arrival + d)
}

/// Time left before `deadline` (`None`: no deadline, unlimited).
pub fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
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
    fn what_tonic_sends_round_trips() {
        let mut req = tonic::Request::new(());
        req.set_timeout(Duration::from_millis(1234));
        let arrival = Instant::now();
        let d = from_metadata(req.metadata(), arrival).unwrap();
        assert_eq!(d - arrival, Duration::from_millis(1234));
    }
}
