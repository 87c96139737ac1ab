//! Sub-millisecond pacing of open-loop arrivals, on the generator's own
//! thread (see [`super::thread`]). tokio's timer wheel has millisecond
//! resolution and rounds up, which would bunch arrivals onto millisecond
//! ticks; a `timerfd` (a kernel high-resolution timer, with no slack)
//! registered with the runtime wakes the thread just before each due time,
//! and the thread yields to its other tasks until the due time is reached.
//!
//! The thread that wakes for a due time is the one that sends the request:
//! a pacer thread that handed due times to the runtime over a socket was
//! one more wake-up of an idle core on every request's path.
//!
//! At low rates every send would start with a cold wake-up (an idle vCPU
//! leaving halt costs tens of µs here), which a closed loop of one client
//! never pays. So after a gap the timer fires [`LEAD`] early, and the
//! thread is awake when the due time comes.

use std::io;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use topolab_services::timer::Timerfd;

/// How early the timer fires after a gap, for the thread to wake up in; it
/// then yields for what is left (4% of a core at 200/s). Measured at 200/s
/// (`make bench BENCH=lowload`): requests leave 0.016-0.023 ms late at p50
/// against 0.092-0.096 ms when the timer fires on time.
const LEAD: Duration = Duration::from_micros(200);

/// How early the timer fires when due times come close together (the
/// thread is then seldom idle long enough to be slow to wake). Below this,
/// the thread does not arm the timer and yields until the due time.
const EARLY: Duration = Duration::from_micros(50);

/// The due times of a schedule, each returned once it is due; they end when
/// the schedule does or `stop` turns true.
pub struct Dues<S> {
    schedule: S,
    timer: Timerfd,
    stop: watch::Receiver<bool>,
    /// The previous due time: how long the gap before the next one is.
    last: Instant,
}

impl<S: Iterator<Item = Instant>> Dues<S> {
    /// Paces `schedule` on this thread's runtime until it ends or `stop`
    /// turns true. Must be called within the tokio runtime.
    pub fn new(schedule: S, stop: watch::Receiver<bool>) -> io::Result<Self> {
        let timer = Timerfd::new()?;
        Ok(Dues {
            schedule,
            timer,
            stop,
            last: Instant::now(),
        })
    }

    /// The next due time, once it is due (never before); `None` when the
    /// schedule ended or was stopped; an error when the timer failed, which
    /// must end the run rather than quietly end the schedule.
    pub async fn recv(&mut self) -> io::Result<Option<Instant>> {
        if *self.stop.borrow() {
            return Ok(None);
        }
        let Some(due) = self.schedule.next() else {
            return Ok(None);
        };
        let early = if due.saturating_duration_since(self.last) > 4 * LEAD {
            LEAD
        } else {
            EARLY
        };
        self.last = due;
        let left = due
            .saturating_duration_since(Instant::now())
            .saturating_sub(early);
        if !left.is_zero() {
            tokio::select! {
                fired = self.timer.fire_in(left) => fired?,
                _ = self.stop.wait_for(|s| *s) => return Ok(None),
            }
        }
        while Instant::now() < due {
            tokio::task::yield_now().await;
        }
        Ok(Some(due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_every_due_time_in_order_and_not_early() {
        let start = Instant::now() + Duration::from_millis(5);
        // Close together, then far apart (woken early, returned on time).
        let schedule: Vec<Instant> = (0..200)
            .map(|i| start + Duration::from_micros(if i < 100 { 250 * i } else { 3_000 * i }))
            .collect();
        let (_tx, stop) = watch::channel(false);
        let mut dues = Dues::new(schedule.clone().into_iter(), stop).unwrap();
        let mut got = Vec::new();
        while let Some(due) = dues.recv().await.unwrap() {
            assert!(Instant::now() >= due, "returned before it was due");
            got.push(due);
        }
        assert_eq!(got, schedule);
    }

    #[tokio::test]
    async fn other_tasks_run_while_it_waits() {
        let start = Instant::now() + Duration::from_millis(20);
        let (_tx, stop) = watch::channel(false);
        let mut dues = Dues::new([start].into_iter(), stop).unwrap();
        let other = tokio::spawn(async { Instant::now() });
        assert_eq!(dues.recv().await.unwrap(), Some(start));
        let ran = other.await.unwrap();
        assert!(ran < start, "the other task waited for the due time");
    }

    #[tokio::test]
    async fn stops_when_told() {
        let start = Instant::now();
        let schedule = (0..).map(move |i| start + Duration::from_millis(i));
        let (tx, stop) = watch::channel(false);
        let mut dues = Dues::new(schedule, stop).unwrap();
        dues.recv().await.unwrap().unwrap();
        tx.send(true).unwrap();
        assert_eq!(dues.recv().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_stop_ends_the_wait_for_a_far_due_time() {
        let far = Instant::now() + Duration::from_secs(60);
        let (tx, stop) = watch::channel(false);
        let mut dues = Dues::new([far].into_iter(), stop).unwrap();
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            tx.send(true).unwrap();
        });
        let waited = Instant::now();
        assert_eq!(dues.recv().await.unwrap(), None);
        assert!(waited.elapsed() < Duration::from_secs(10));
        stopper.await.unwrap();
    }
}
