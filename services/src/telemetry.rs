//! Telemetry inside the replica: on a grid of wall-clock multiples of
//! `settings.sample_every` (the same instants in every process of a run), a
//! sample of the queue and in-flight levels and of the counts since the
//! previous sample. Samples wait in a bounded buffer until the launcher takes
//! them with `Control/Telemetry`.
//!
//! An idle replica costs nothing: after a quiet sample (nothing counted, no
//! level above zero) the sampler parks on [`Activity`] until the figures
//! change, and a `Control/Telemetry` call may wait (a long poll) until a
//! sample exists. The launcher fills the grid points a parked replica skipped
//! with zero rows, so `timeseries.csv` keeps one row per interval.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use topolab_proto::v1 as pb;

use crate::admission::Admission;
use crate::shutdown::Shutdown;
use crate::stats::{Stats, Totals};

/// Samples kept while the launcher does not ask (minutes at the default
/// interval). Past it the two oldest are merged, so counts are never lost.
const MAX_BUFFERED: usize = 20_000;

/// Wakes a parked sampler when the replica's figures change. The request
/// path pays one relaxed load per change while the sampler is awake.
#[derive(Debug, Default)]
pub struct Activity {
    parked: AtomicBool,
    notify: Notify,
}

impl Activity {
    /// Something was counted: wake the sampler if it is parked.
    pub fn poke(&self) {
        if self.parked.load(Ordering::Relaxed) && self.parked.swap(false, Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }
}

/// The sampler's buffer and the running counts of the previous sample.
#[derive(Debug)]
pub struct Telemetry {
    every_us: u64,
    state: Mutex<State>,
    /// Signalled when a sample is buffered, for long polls.
    ready: Notify,
    /// The launcher flushed: long polls answer at once from now on.
    flushed: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    samples: VecDeque<pb::Sample>,
    last: Totals,
    last_t_us: u64,
}

impl Telemetry {
    /// A sampler that samples every `every` (at least 1 ms).
    pub fn new(every: Duration) -> Self {
        Telemetry {
            every_us: (every.as_micros() as u64).max(1000),
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            flushed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Takes one sample stamped `t_us`. With `only_if_counted`, nothing is
    /// kept when nothing was counted since the previous sample. True when
    /// the sample is quiet: nothing counted and every level at zero.
    fn sample(
        &self,
        t_us: u64,
        stats: &Stats,
        admission: &Admission,
        only_if_counted: bool,
    ) -> bool {
        let (queue, in_flight) = (admission.depth() as u64, u64::from(admission.in_flight()));
        let now = stats.totals();
        let mut st = self.lock();
        let quiet =
            now == st.last && queue == 0 && in_flight == 0 && now.held == 0 && now.streams == 0;
        if only_if_counted && now == st.last {
            return quiet;
        }
        let last = std::mem::replace(&mut st.last, now);
        st.last_t_us = st.last_t_us.max(t_us);
        st.samples.push_back(pb::Sample {
            t_unix_us: t_us,
            queue,
            in_flight,
            arrived: now.arrived - last.arrived,
            completed: now.completed - last.completed,
            rejected: now.rejected - last.rejected,
            failed: now.failed - last.failed,
            held: now.held,
            streams: now.streams,
            pushed: now.pushed - last.pushed,
        });
        if st.samples.len() > MAX_BUFFERED
            && let Some(oldest) = st.samples.pop_front()
            && let Some(next) = st.samples.front_mut()
        {
            next.arrived += oldest.arrived;
            next.completed += oldest.completed;
            next.rejected += oldest.rejected;
            next.failed += oldest.failed;
            next.pushed += oldest.pushed;
        }
        drop(st);
        self.ready.notify_one();
        quiet
    }

    /// Hands out every sample not yet handed out; with `flush`, first samples
    /// the unfinished interval (when anything was counted in it).
    pub fn take(&self, stats: &Stats, admission: &Admission, flush: bool) -> pb::TelemetryReply {
        if flush {
            let t = now_us().max(self.lock().last_t_us + 1);
            self.sample(t, stats, admission, true);
        }
        let samples = self.lock().samples.drain(..).collect();
        if flush {
            // The launcher's last question: a long poll still waiting ends
            // now (empty), so the launcher need not cut it and lose nothing.
            self.flushed.store(true, Ordering::SeqCst);
            self.ready.notify_waiters();
        }
        pb::TelemetryReply {
            samples,
            queue: admission.depth() as u64,
            in_flight: u64::from(admission.in_flight()),
        }
    }

    /// As [`Telemetry::take`] without a flush, but when no sample is
    /// buffered, first waits up to `wait` for one (or for `shutdown`): the
    /// launcher's long poll, which costs an idle replica nothing.
    pub async fn take_waiting(
        &self,
        stats: &Stats,
        admission: &Admission,
        wait: Duration,
        shutdown: &Shutdown,
    ) -> pb::TelemetryReply {
        let until = tokio::time::Instant::now() + wait;
        // A loop: a permit left by a sample already taken wakes it early.
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            // Registered before looking, so a flush in between still wakes it.
            notified.as_mut().enable();
            if !self.lock().samples.is_empty() || self.flushed.load(Ordering::SeqCst) {
                break;
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(until) => break,
                () = shutdown.wait() => break,
            }
        }
        self.take(stats, admission, false)
    }

    /// Samples on the grid until `shutdown`. A late wake-up (a busy machine)
    /// skips grid points; the next sample then covers the longer interval,
    /// so counts are never lost. After a quiet sample the sampler parks
    /// until something is counted; it then samples on the next grid point.
    pub async fn run(&self, stats: &Stats, admission: &Admission, shutdown: Shutdown) {
        loop {
            let now = now_us();
            let next = next_tick(now, self.every_us).max(self.lock().last_t_us + self.every_us);
            let sleep = tokio::time::sleep(Duration::from_micros(next - now));
            let quiet = tokio::select! {
                () = sleep => self.sample(next, stats, admission, false),
                () = shutdown.wait() => return,
            };
            if quiet && !self.park(stats, admission, &shutdown).await {
                return;
            }
        }
    }

    /// Waits until the figures change; false when `shutdown` came first.
    async fn park(&self, stats: &Stats, admission: &Admission, shutdown: &Shutdown) -> bool {
        let activity = stats.activity();
        activity.parked.store(true, Ordering::SeqCst);
        // A change between the sample and the flag must not be slept through:
        // look again now that any later change will poke.
        let unchanged = stats.totals() == self.lock().last
            && admission.depth() == 0
            && admission.in_flight() == 0;
        let awake = !unchanged
            || tokio::select! {
                () = activity.notify.notified() => true,
                () = shutdown.wait() => false,
            };
        activity.parked.store(false, Ordering::SeqCst);
        awake
    }
}

/// The first grid point strictly after `now_us`.
pub fn next_tick(now_us: u64, every_us: u64) -> u64 {
    (now_us / every_us + 1) * every_us
}

/// Wall-clock microseconds since the Unix epoch: the time base every process
/// of a run shares.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use topolab_model::Discipline;

    #[test]
    fn ticks_fall_on_multiples_of_the_interval() {
        assert_eq!(next_tick(0, 100_000), 100_000);
        assert_eq!(next_tick(1_234_567, 100_000), 1_300_000);
        assert_eq!(next_tick(1_300_000, 100_000), 1_400_000);
    }

    /// An idle replica samples once, parks, and wakes on the next change;
    /// a long poll waits for that sample instead of returning empty.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_sampler_parks_until_something_is_counted() {
        let stats = std::sync::Arc::new(Stats::new(["A"]));
        let adm = std::sync::Arc::new(Admission::new(1, Some(4), Discipline::Fifo));
        let tel = std::sync::Arc::new(Telemetry::new(Duration::from_millis(10)));
        let shutdown = Shutdown::new();
        let task = {
            let (stats, adm, tel, s) = (stats.clone(), adm.clone(), tel.clone(), shutdown.clone());
            tokio::spawn(async move { tel.run(&stats, &adm, s).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle = tel.take(&stats, &adm, false).samples;
        assert!(
            idle.len() <= 3,
            "{} samples in 300 ms of idling at 10 ms: it did not park",
            idle.len()
        );
        let waiter = {
            let (stats, adm, tel, s) = (stats.clone(), adm.clone(), tel.clone(), shutdown.clone());
            tokio::spawn(async move {
                tel.take_waiting(&stats, &adm, Duration::from_secs(10), &s)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        stats.arrived(0);
        let woke = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the long poll answered once a sample was taken")
            .unwrap();
        assert_eq!(woke.samples.iter().map(|s| s.arrived).sum::<u64>(), 1);
        shutdown.trigger();
        task.await.unwrap();
    }

    #[test]
    fn samples_count_the_interval_and_are_handed_out_once() {
        let stats = Stats::new(["A"]);
        let adm = Admission::new(1, Some(4), Discipline::Fifo);
        let tel = Telemetry::new(Duration::from_millis(100));
        let _held = adm.enter().unwrap().now_or_never().unwrap();
        let _waiting = adm.enter().unwrap();
        stats.arrived(0);
        stats.arrived(0);
        tel.sample(100_000, &stats, &adm, false);
        stats.arrived(0);
        stats.finished(0, crate::stats::Outcome::Rejected, Default::default());
        tel.sample(200_000, &stats, &adm, false);
        let r = tel.take(&stats, &adm, false);
        assert_eq!(r.samples.len(), 2);
        assert_eq!((r.samples[0].queue, r.samples[0].in_flight), (1, 1));
        assert_eq!(r.samples[0].arrived, 2);
        assert_eq!((r.samples[1].arrived, r.samples[1].rejected), (1, 1));
        assert!(
            tel.take(&stats, &adm, true).samples.is_empty(),
            "nothing new"
        );
        stats.arrived(0);
        let flushed = tel.take(&stats, &adm, true).samples;
        assert_eq!(flushed.len(), 1);
        assert!(flushed[0].t_unix_us > 200_000);
    }
}
