//! Sub-millisecond pacing of open-loop arrivals, on the thread that sends
//! them. tokio's timer wheel has millisecond resolution and rounds up, which
//! would bunch arrivals onto millisecond ticks; so the sender sleeps on it
//! only until [`COARSE`] before a due time, then, when no request of its own
//! is waiting for an answer, sleeps the thread itself (its timer slack set to
//! 1 ns) to [`SPIN_WINDOW`] before it, and yields to its runtime for the
//! rest, so answers that arrive meanwhile are still taken at once.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

/// Farther than this from the due time, sleep on tokio's timer.
pub const COARSE: Duration = Duration::from_millis(2);

/// Closer than this to the due time, yield (spin) rather than sleep.
pub const SPIN_WINDOW: Duration = Duration::from_micros(120);

/// What the sender does next while waiting for `due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Due (or late): send now.
    Due,
    /// Far off: sleep on the runtime's timer until this instant.
    Coarse(Instant),
    /// Near, and nothing in flight: sleep the thread this long.
    Block(Duration),
    /// Nearly due, or answers are expected: yield to the runtime and look again.
    Spin,
}

/// How to wait for `due` at `now`; `idle` says no request of this sender's
/// is in flight (blocking the thread would delay nobody's answer).
pub fn next_wait(due: Instant, now: Instant, idle: bool) -> Wait {
    if now >= due {
        return Wait::Due;
    }
    let left = due - now;
    if left > COARSE {
        Wait::Coarse(due - COARSE)
    } else if idle && left > SPIN_WINDOW {
        Wait::Block(left - SPIN_WINDOW)
    } else {
        Wait::Spin
    }
}

/// Lowers the calling thread's timer slack from the default 50 µs to 1 ns,
/// so its sleeps end when asked (Linux; a failure only costs precision).
pub fn fine_timer_slack() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::set_current_timer_slack(NonZeroU64::new(1)) {
        tracing::debug!("timer slack stays at its default: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_sends_early_and_sleeps_only_when_far_or_idle() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(next_wait(now, now, true), Wait::Due);
        assert_eq!(next_wait(now, now + ms(1), false), Wait::Due);
        assert_eq!(
            next_wait(now + ms(10), now, false),
            Wait::Coarse(now + ms(8))
        );
        assert_eq!(
            next_wait(now + ms(1), now, true),
            Wait::Block(ms(1) - SPIN_WINDOW)
        );
        // Answers are expected: keep the runtime turning instead of blocking.
        assert_eq!(next_wait(now + ms(1), now, false), Wait::Spin);
        assert_eq!(
            next_wait(now + Duration::from_micros(50), now, true),
            Wait::Spin
        );
    }
}
