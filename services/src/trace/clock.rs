//! One mapping from this process's monotonic clock to wall time, fixed at the
//! first use, so every span of the process is placed on the same line: spans
//! are timed with `Instant` (immune to clock steps) and only converted here.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

static ANCHOR: OnceLock<(Instant, u64)> = OnceLock::new();

fn anchor() -> (Instant, u64) {
    *ANCHOR.get_or_init(|| {
        let now = Instant::now();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        (now, wall)
    })
}

/// Fixes the anchor now (call early, before the first span), so later calls
/// never pay for it on a request's path.
pub fn init() {
    anchor();
}

/// Nanoseconds since the Unix epoch of `t`, on this process's fixed anchor.
pub fn unix_nanos(t: Instant) -> u64 {
    let (at, wall) = anchor();
    if t >= at {
        wall + (t - at).as_nanos() as u64
    } else {
        wall.saturating_sub((at - t).as_nanos() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn monotonic_order_and_differences_are_kept() {
        let a = Instant::now();
        let b = a + Duration::from_micros(1234);
        assert_eq!(unix_nanos(b) - unix_nanos(a), 1_234_000);
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        assert!(unix_nanos(Instant::now()).abs_diff(wall) < 50_000_000);
    }
}
