//! Sub-millisecond pacing of open-loop arrivals. tokio's timer wheel has
//! millisecond resolution and rounds up, which would bunch arrivals onto
//! millisecond ticks; a dedicated thread with the kernel's timer slack set to
//! 1 ns sleeps to just before each due time, then yields until it is reached,
//! and hands the due instant to the async side.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

/// Sleep with the OS until this close to the due time; yield the rest.
const SPIN_WINDOW: Duration = Duration::from_micros(120);

/// Due times waiting to be sent; if the async side falls this far behind, the
/// pacer waits, and the lateness shows in the summary.
const BACKLOG: usize = 65_536;

/// Starts a pacer thread that emits each instant of `schedule` when it is due,
/// until the schedule ends or `stop` turns true.
pub fn spawn<S>(schedule: S, stop: watch::Receiver<bool>) -> mpsc::Receiver<Instant>
where
    S: Iterator<Item = Instant> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(BACKLOG);
    let spawned = std::thread::Builder::new()
        .name("topolab-pacer".into())
        .spawn(move || {
            // A failure only costs precision: the default slack is 50 µs.
            #[cfg(target_os = "linux")]
            let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
            for due in schedule {
                loop {
                    if *stop.borrow() {
                        return;
                    }
                    let now = Instant::now();
                    if now >= due {
                        break;
                    }
                    let left = due - now;
                    if left > SPIN_WINDOW {
                        std::thread::sleep((left - SPIN_WINDOW).min(Duration::from_millis(50)));
                    } else {
                        std::thread::yield_now();
                    }
                }
                if tx.blocking_send(due).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        // Without a pacer there is no load; the empty channel says so at once.
        crate::notice::say(format!("warning: could not start a load pacer thread: {e}"));
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn emits_every_due_time_in_order_and_not_early() {
        let start = Instant::now() + Duration::from_millis(5);
        let schedule: Vec<Instant> = (0..200)
            .map(|i| start + Duration::from_micros(250 * i))
            .collect();
        let (_tx, stop) = watch::channel(false);
        let mut rx = spawn(schedule.clone().into_iter(), stop);
        let mut got = Vec::new();
        while let Some(due) = rx.recv().await {
            assert!(Instant::now() >= due, "emitted before it was due");
            got.push(due);
        }
        assert_eq!(got, schedule);
    }

    #[tokio::test]
    async fn stops_when_told() {
        let start = Instant::now();
        let schedule = (0..).map(move |i| start + Duration::from_millis(i));
        let (tx, stop) = watch::channel(false);
        let mut rx = spawn(schedule, stop);
        rx.recv().await.unwrap();
        tx.send(true).unwrap();
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        assert!(n < 1000, "kept going after stop: {n}");
    }
}
