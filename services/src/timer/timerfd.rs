//! A `timerfd` (a kernel high-resolution timer with no slack) registered
//! with the tokio runtime of the task that made it, so that the thread
//! waiting for a due time is the thread the timer wakes: no timer thread
//! in between, and no second wake-up to hand the due time over.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// One timer, armed for one due time at a time.
pub struct Timerfd(AsyncFd<OwnedFd>);

impl Timerfd {
    /// A disarmed timer on the current runtime's I/O driver. Must be called
    /// within a tokio runtime with I/O enabled.
    pub fn new() -> io::Result<Self> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // SAFETY: the descriptor is owned by the `OwnedFd`, which the
        // `AsyncFd` owns in turn: it stays open, and the same, as long as
        // the registration lives.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(Timerfd(fd))
    }

    /// Arms the timer for `after` from now and waits until it fires; a zero
    /// `after` (which would disarm a timerfd) returns at once.
    pub async fn fire_in(&self, after: Duration) -> io::Result<()> {
        if after.is_zero() {
            return Ok(());
        }
        let value = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: after.as_secs() as _,
                tv_nsec: after.subsec_nanos() as _,
            },
        };
        timerfd_settime(self.0.get_ref(), TimerfdTimerFlags::empty(), &value)?;
        loop {
            let mut ready = self.0.readable().await?;
            let mut expirations = [0u8; 8];
            match ready.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut expirations)?)) {
                Ok(read) => return read.map(drop),
                Err(_not_yet) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn fires_after_the_time_asked_and_again_when_rearmed() {
        let timer = Timerfd::new().unwrap();
        for us in [300, 1_000] {
            let t = Instant::now();
            timer.fire_in(Duration::from_micros(us)).await.unwrap();
            assert!(t.elapsed() >= Duration::from_micros(us));
        }
    }

    /// A zero wait (which would disarm a timerfd, and so wait forever)
    /// returns at once: 1,000 of them in well under 100 ms (the bound
    /// leaves a busy machine room to preempt the thread), and a hang is a
    /// failure after 5 s rather than a test that never ends.
    #[tokio::test]
    async fn a_zero_wait_returns_at_once() {
        let timer = Timerfd::new().unwrap();
        let t = Instant::now();
        let zeros = async {
            for _ in 0..1_000 {
                timer.fire_in(Duration::ZERO).await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(5), zeros)
            .await
            .expect("a zero wait hung");
        let took = t.elapsed();
        assert!(
            took < Duration::from_millis(100),
            "1,000 zero waits took {took:?}"
        );
    }
}
