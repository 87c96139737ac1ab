//! A replica's view of its service's changing data (`updates:`): the version
//! it holds now, following the run's timeline from the instant the load
//! started, and waiting for a newer one (long polls and subscriptions). The
//! subscription RPC itself is in [`stream`], and a balancer's relay of it in
//! [`relay`].

pub mod relay;
pub mod stream;

use parking_lot::Mutex;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use topolab_model::Timeline;

use crate::shutdown::Shutdown;
use crate::spec::ReplicaSpec;
use crate::telemetry::now_us;

/// The versions of this replica's data; cheap to clone.
#[derive(Debug, Clone)]
pub struct Versions {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None`: the service's data never changes (it stays at version 0).
    timeline: Option<Mutex<Timeline>>,
    /// The version held now; waiters watch it.
    tx: watch::Sender<u64>,
    /// When the load started, wall-clock microseconds (set once).
    start_us: OnceLock<u64>,
    /// Wakes the ticking task when the timeline was retimed.
    retimed: tokio::sync::Notify,
}

impl Versions {
    /// The versions of `spec`'s service, at 0 until [`Versions::begin`].
    pub fn new(spec: &ReplicaSpec) -> Self {
        let timeline = spec
            .service()
            .updates
            .map(|gaps| Mutex::new(Timeline::new(spec.seed, &spec.service, gaps)));
        let (tx, _) = watch::channel(0);
        Versions {
            inner: Arc::new(Inner {
                timeline,
                tx,
                start_us: OnceLock::new(),
                retimed: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Whether the service declares `updates`.
    pub fn changes(&self) -> bool {
        self.inner.timeline.is_some()
    }

    /// Starts following the timeline from `start_us` (the load's start);
    /// later calls are ignored. A replica started after that instant (a
    /// restart) catches up at once to the version that exists now.
    pub fn begin(&self, start_us: u64, shutdown: Shutdown) {
        if !self.changes() || self.inner.start_us.set(start_us).is_err() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = me.tick(start_us) => {}
                () = shutdown.wait() => {}
            }
        });
    }

    async fn tick(&self, start_us: u64) {
        let since = now_us().saturating_sub(start_us);
        let mut k = self.with_timeline(|t| t.version_at(Duration::from_micros(since)));
        self.inner.tx.send_replace(k);
        loop {
            k += 1;
            let at = start_us + self.with_timeline(|t| t.created(k)).as_micros() as u64;
            let wait = at.saturating_sub(now_us());
            if wait > 0 {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_micros(wait)) => {}
                    // Version k may now come at another time: ask again.
                    () = self.inner.retimed.notified() => {
                        k -= 1;
                        continue;
                    }
                }
            }
            self.inner.tx.send_replace(k);
        }
    }

    /// From `from` after the start of load, versions come `gaps` apart
    /// (see [`Timeline::retime`]); the version held now stays.
    pub fn retime(&self, from: Duration, gaps: topolab_model::Dist, change: u64) {
        if !self.changes() {
            return;
        }
        self.with_timeline(|t| t.retime(from, gaps, change));
        // One ticking task: a permit is kept if it is not waiting yet.
        self.inner.retimed.notify_one();
    }

    fn with_timeline<R>(&self, f: impl FnOnce(&mut Timeline) -> R) -> R {
        // Cannot fail: only `tick`, `retime` and `created_unix_us` call
        // this, and only once `changes()` (the timeline exists).
        let m = self.inner.timeline.as_ref().expect("a timeline");
        f(&mut m.lock())
    }

    /// The version held now.
    pub fn current(&self) -> u64 {
        *self.inner.tx.borrow()
    }

    /// When version `k` appeared, wall-clock microseconds (0 for version 0
    /// or before the load started).
    pub fn created_unix_us(&self, k: u64) -> u64 {
        match self.inner.start_us.get() {
            Some(start) if k > 0 && self.changes() => {
                start + self.with_timeline(|t| t.created(k)).as_micros() as u64
            }
            _ => 0,
        }
    }

    /// Follows every new version (subscriptions).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.inner.tx.subscribe()
    }

    /// Waits until a version newer than `known` exists, at most `up_to`;
    /// returns the version held then (a long poll's answer).
    pub async fn newer_than(&self, known: u64, up_to: Duration) -> u64 {
        let mut rx = self.watch();
        let _ = tokio::time::timeout(up_to, rx.wait_for(|v| *v > known)).await;
        self.current()
    }
}

/// A long poll: hold the request until a version newer than `known`, at
/// most `hold`.
#[derive(Debug, Clone, Copy)]
pub struct LongPoll {
    pub known: u64,
    pub hold: Duration,
}

impl LongPoll {
    /// The long poll a request asks for (`long_poll_us` non-zero), if any.
    pub fn from_request(req: &topolab_proto::v1::CallRequest) -> Option<Self> {
        (req.long_poll_us > 0).then(|| LongPoll {
            known: req.known_version,
            hold: Duration::from_micros(req.long_poll_us),
        })
    }
}

/// How long before the caller's deadline a held request answers "nothing
/// new", so the answer reaches the caller in time.
const ANSWER_MARGIN: Duration = Duration::from_millis(20);

/// Holds one long poll on endpoint `id` of `replica`, counted as held while
/// it waits (even when the caller gives up midway); returns how long it was
/// held.
pub async fn hold(
    replica: &crate::replica::Replica,
    id: crate::stats::EndpointId,
    lp: LongPoll,
    deadline: Option<tokio::time::Instant>,
) -> Duration {
    struct Held<'a>(&'a crate::stats::Stats, crate::stats::EndpointId);
    impl Drop for Held<'_> {
        fn drop(&mut self) {
            self.0.hold(self.1, false);
        }
    }
    let up_to = match deadline {
        Some(d) => lp.hold.min(
            d.saturating_duration_since(tokio::time::Instant::now())
                .saturating_sub(ANSWER_MARGIN),
        ),
        None => lp.hold,
    };
    let start = tokio::time::Instant::now();
    replica.stats().hold(id, true);
    let _held = Held(replica.stats(), id);
    replica.versions().newer_than(lp.known, up_to).await;
    start.elapsed()
}
