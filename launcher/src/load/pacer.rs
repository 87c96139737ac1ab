//! Sub-millisecond pacing of open-loop arrivals. tokio's timer wheel has
//! millisecond resolution and rounds up, which would bunch arrivals onto
//! millisecond ticks; a dedicated thread with the kernel's timer slack set to
//! 1 ns sleeps to just before each due time, then yields until it is reached,
//! and hands the due instant to the async side.
//!
//! At low rates every send would start with a cold wake-up of the sender
//! (an idle vCPU leaving halt costs tens of µs here), which a closed loop of
//! one client never pays. So after a gap the pacer hands the due time over
//! [`LEAD`] early and sleeps, and the sender yields until the due time (other
//! tasks run meanwhile): the thread awake at the due time is the one that
//! sends. The hand-off is a socket whose readiness reaches the runtime
//! through its I/O driver, so the worker that wakes is the one polling the
//! driver, the one that will see the answer arrive.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, BufReader};
use tokio::sync::watch;

/// Sleep with the OS until this close to the hand-off time; yield the rest.
const SPIN_WINDOW: Duration = Duration::from_micros(120);

/// How early a due time is handed over after a gap, for the sender to wake
/// up in; it then yields for what is left, in place of the pacer's own spin.
/// Measured at 200/s on a quiet box (`make bench BENCH=lowload`): p50
/// 1.2-1.4x a closed loop of one client against 1.5-2.0x handing over on
/// time, for 1.5-2% of a core more; 300 µs did no better.
const LEAD: Duration = Duration::from_micros(200);

/// Bytes read from the socket at a time (8 a due time). Due times waiting to
/// be sent sit in the socket's buffer, bounded by the kernel (~280 here); if
/// the async side falls that far behind, the pacer waits, and the lateness
/// shows in the summary.
const READ_BATCH: usize = 8 * 512;

/// Due times pending on the async side, in order; ends when the pacer does.
pub struct Dues {
    socket: BufReader<tokio::net::UnixStream>,
    /// Due times cross the socket as nanoseconds from this instant.
    base: Instant,
}

impl Dues {
    /// The next due time, once it is due; `None` when the schedule ended or
    /// was stopped.
    pub async fn recv(&mut self) -> Option<Instant> {
        let ns = self.socket.read_i64_le().await.ok()?;
        let due = if ns >= 0 {
            self.base + Duration::from_nanos(ns as u64)
        } else {
            self.base - Duration::from_nanos(ns.unsigned_abs())
        };
        while Instant::now() < due {
            tokio::task::yield_now().await;
        }
        Some(due)
    }
}

/// Starts a pacer thread that hands over each instant of `schedule` when it
/// is due (after a gap, [`LEAD`] early), until the schedule ends or
/// `stop` turns true. Must be called within the tokio runtime.
pub fn spawn<S>(schedule: S, stop: watch::Receiver<bool>) -> std::io::Result<Dues>
where
    S: Iterator<Item = Instant> + Send + 'static,
{
    let (mut tx, rx) = UnixStream::pair()?;
    rx.set_nonblocking(true)?;
    let rx = tokio::net::UnixStream::from_std(rx)?;
    let base = Instant::now();
    std::thread::Builder::new()
        .name("topolab-pacer".into())
        .spawn(move || {
            // A failure only costs precision: the default slack is 50 µs.
            #[cfg(target_os = "linux")]
            let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
            let mut last = base;
            for due in schedule {
                let at = handover(last, due);
                // Early: the sender yields the rest, so the pacer need not.
                let spin = if at < due {
                    Duration::ZERO
                } else {
                    SPIN_WINDOW
                };
                last = due;
                loop {
                    if *stop.borrow() {
                        return;
                    }
                    let now = Instant::now();
                    if now >= at {
                        break;
                    }
                    let left = at - now;
                    if left > spin {
                        std::thread::sleep((left - spin).min(Duration::from_millis(50)));
                    } else {
                        std::thread::yield_now();
                    }
                }
                let ns = match due.checked_duration_since(base) {
                    Some(after) => after.as_nanos() as i64,
                    None => -((base - due).as_nanos() as i64),
                };
                // Blocks while the socket is full: the async side is behind.
                if tx.write_all(&ns.to_le_bytes()).is_err() {
                    return;
                }
            }
        })?;
    Ok(Dues {
        socket: BufReader::with_capacity(READ_BATCH, rx),
        base,
    })
}

/// When to hand `due` over, the previous due time being `last`: early after
/// a gap long enough for the async side to have gone to sleep, on time when
/// due times come close together (the sender is awake anyway).
fn handover(last: Instant, due: Instant) -> Instant {
    if due.saturating_duration_since(last) > 4 * LEAD {
        due - LEAD
    } else {
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn emits_every_due_time_in_order_and_not_early() {
        let start = Instant::now() + Duration::from_millis(5);
        // Close together, then far apart (handed over early, returned on time).
        let schedule: Vec<Instant> = (0..200)
            .map(|i| start + Duration::from_micros(if i < 100 { 250 * i } else { 3_000 * i }))
            .collect();
        let (_tx, stop) = watch::channel(false);
        let mut rx = spawn(schedule.clone().into_iter(), stop).unwrap();
        let mut got = Vec::new();
        while let Some(due) = rx.recv().await {
            assert!(Instant::now() >= due, "emitted before it was due");
            got.push(due);
        }
        assert_eq!(got, schedule);
    }

    #[test]
    fn hands_over_early_only_after_a_gap() {
        let last = Instant::now();
        let far = last + Duration::from_millis(5);
        assert_eq!(handover(last, far), far - LEAD);
        let near = last + LEAD;
        assert_eq!(handover(last, near), near);
    }

    #[tokio::test]
    async fn stops_when_told() {
        let start = Instant::now();
        let schedule = (0..).map(move |i| start + Duration::from_millis(i));
        let (tx, stop) = watch::channel(false);
        let mut rx = spawn(schedule, stop).unwrap();
        rx.recv().await.unwrap();
        tx.send(true).unwrap();
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        assert!(n < 1000, "kept going after stop: {n}");
    }
}
