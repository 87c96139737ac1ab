//! The thread that turns what the collector receives into `traces.jsonl`:
//! spans wait, grouped by trace, until their trace is complete (its root is
//! in and nothing came for a moment), then the [`keep`](super::keep) policy
//! decides the whole trace and kept traces are written at once. Everything
//! held is bounded: the queue from the collector (full: the export is
//! refused and counted), the traces waiting (full: the oldest are decided
//! early) and the memory of past decisions (for spans that come late: a
//! fixed table, [`Decisions`]).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::decisions::Decisions;
use super::file::{Origin, TracesFile};
use super::keep::{Facts, Keeping, Policy};
use super::raw::{self, RawResourceSpans};

/// Spans queued between the collector and this thread at most.
pub const QUEUE_SPANS: usize = 65_536;
/// Spans waiting for their trace to complete at most.
const PENDING_SPANS: usize = 100_000;
/// Distinct origins (processes) interned; past this each batch has its own.
const ORIGINS: usize = 8_192;
/// What one span takes in OTLP/JSON, before any is written.
const SPAN_BYTES_GUESS: u64 = 700;
/// How often waiting traces are looked at.
const TICK: Duration = Duration::from_millis(100);
/// A trace whose root is in is complete once nothing came for this long
/// (exporters send every 200 ms).
const QUIET_WITH_ROOT: Duration = Duration::from_millis(600);
/// Without its root, a trace waits this long after its last span (a caller
/// may still be working or waiting on another callee).
const QUIET_WITHOUT_ROOT: Duration = Duration::from_secs(5);
/// No trace waits longer than this.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// The collector's side: hands over what arrives, never waiting.
#[derive(Clone)]
pub struct Sink {
    tx: SyncSender<Vec<RawResourceSpans>>,
    queued: Arc<AtomicUsize>,
}

impl Sink {
    /// Queues `spans` spans for the file; false (nothing taken) when the
    /// queue is full, so the caller refuses the export and it is counted.
    pub fn offer(&self, batches: Vec<RawResourceSpans>, spans: usize) -> bool {
        let before = self.queued.fetch_add(spans, Ordering::Relaxed);
        if before + spans > QUEUE_SPANS || self.tx.try_send(batches).is_err() {
            self.queued.fetch_sub(spans, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// What the writer did, once it has finished.
#[derive(Debug, Default)]
pub struct Written {
    pub bytes: u64,
    pub spans: u64,
    pub keeping: Keeping,
    /// Why writing stopped early (a full disk, ...), if it did.
    pub error: Option<String>,
    /// Spans decided kept but not written because writing had failed, and
    /// spans whose bytes were not a readable OTLP span.
    pub spans_lost: u64,
}

/// The running writer thread.
pub struct Writer {
    sink: Sink,
    thread: JoinHandle<Written>,
}

impl Writer {
    /// Creates `dir/traces.jsonl` and starts writing into it, keeping it
    /// within `budget` bytes by the keeping policy.
    pub fn start(dir: &Path, budget: u64) -> anyhow::Result<Self> {
        let file = TracesFile::create(dir)?;
        let (tx, rx) = sync_channel(1024);
        let queued = Arc::new(AtomicUsize::new(0));
        let state = State::new(file, budget, queued.clone());
        let thread = std::thread::Builder::new()
            .name("traces-writer".into())
            .spawn(move || {
                yield_to_the_run();
                state.run(rx)
            })?;
        Ok(Writer {
            sink: Sink { tx, queued },
            thread,
        })
    }

    /// Where the collector hands spans over.
    pub fn sink(&self) -> Sink {
        self.sink.clone()
    }

    /// Once every sink is dropped: decides what still waits, writes it and
    /// returns the tallies.
    pub fn finish(self) -> Written {
        let Writer { sink, thread } = self;
        drop(sink);
        thread.join().unwrap_or_else(|_| Written {
            error: Some("the traces writer panicked".into()),
            ..Written::default()
        })
    }
}

struct Open {
    /// The generation of its last span (see [`Generation`]).
    seen: u64,
    first: Instant,
    last: Instant,
    has_root: bool,
    error: bool,
    start_ns: u64,
    end_ns: u64,
    spans: Vec<(Arc<Origin>, Vec<u8>)>,
}

struct State {
    file: TracesFile,
    policy: Policy,
    queued: Arc<AtomicUsize>,
    started: Instant,
    open: IdMap<Open>,
    open_spans: usize,
    decided: Decisions,
    origins: HashMap<Vec<u8>, Arc<Origin>>,
    out: Vec<(Arc<Origin>, Vec<u8>)>,
    /// The traces that had spans in each generation, oldest first; the
    /// last is the one being filled.
    generations: VecDeque<Generation>,
    /// Traces without their root that were quiet for a generation's
    /// 600 ms, with when that generation ended, oldest first.
    rootless: VecDeque<(Instant, u64, TraceKey)>,
    /// An emptied generation's buffer, for the next one.
    spare: Vec<TraceKey>,
    error: Option<String>,
    lost: u64,
}

impl State {
    fn new(file: TracesFile, budget: u64, queued: Arc<AtomicUsize>) -> Self {
        State {
            file,
            policy: Policy::new(budget),
            queued,
            started: Instant::now(),
            open: IdMap::default(),
            open_spans: 0,
            // Its whole table up front: a long run's resident size is a
            // short one's.
            decided: Decisions::default(),
            origins: HashMap::new(),
            out: Vec::new(),
            generations: VecDeque::from([Generation::default()]),
            rootless: VecDeque::new(),
            spare: Vec::new(),
            error: None,
            lost: 0,
        }
    }

    fn run(mut self, rx: Receiver<Vec<RawResourceSpans>>) -> Written {
        let mut last_tick = Instant::now();
        loop {
            match rx.recv_timeout(TICK) {
                Ok(batches) => self.take(batches),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.decide_due(last_tick, false);
                self.write_out();
            }
        }
        self.decide_due(Instant::now(), true);
        self.write_out();
        if self.error.is_none()
            && let Err(e) = self.file.flush()
        {
            self.error = Some(format!("{e:#}"));
        }
        Written {
            bytes: self.file.bytes,
            spans: self.file.spans,
            keeping: self.policy.finish(),
            error: self.error,
            spans_lost: self.lost + self.file.unreadable,
        }
    }

    fn take(&mut self, batches: Vec<RawResourceSpans>) {
        let now = Instant::now();
        let mut n = 0;
        for rs in batches {
            for ss in rs.scope_spans {
                n += ss.spans.len();
                let Some(origin) =
                    self.origin(&rs.resource, &rs.schema_url, ss.scope, ss.schema_url)
                else {
                    self.lost += ss.spans.len() as u64;
                    continue;
                };
                for span in ss.spans {
                    self.place(now, &origin, span);
                }
            }
        }
        self.queued.fetch_sub(n, Ordering::Relaxed);
        if self.open_spans > PENDING_SPANS {
            self.decide_oldest();
        }
    }

    /// The shared origin of a batch (known ones by their bytes); `None` when
    /// its resource or scope is not readable.
    fn origin(
        &mut self,
        resource: &Option<Vec<u8>>,
        schema_url: &str,
        scope: Option<Vec<u8>>,
        scope_schema_url: String,
    ) -> Option<Arc<Origin>> {
        let mut key = Vec::new();
        for part in [
            resource.as_deref(),
            Some(schema_url.as_bytes()),
            scope.as_deref(),
        ] {
            // Presence and length first, so that no two origins share a key.
            match part {
                Some(p) => {
                    key.push(1);
                    key.extend_from_slice(&(p.len() as u64).to_le_bytes());
                    key.extend_from_slice(p);
                }
                None => key.push(0),
            }
        }
        key.extend_from_slice(scope_schema_url.as_bytes());
        if let Some(known) = self.origins.get(&key) {
            return Some(known.clone());
        }
        let o = Arc::new(Origin {
            resource: resource.as_deref().map(Resource::decode).transpose().ok()?,
            schema_url: schema_url.to_owned(),
            scope: scope
                .as_deref()
                .map(InstrumentationScope::decode)
                .transpose()
                .ok()?,
            scope_schema_url,
        });
        if self.origins.len() < ORIGINS {
            self.origins.insert(key, o.clone());
        }
        Some(o)
    }

    fn place(&mut self, now: Instant, origin: &Arc<Origin>, span: Vec<u8>) {
        let Some(f) = raw::facts(&span) else {
            self.lost += 1;
            return;
        };
        match self.decided.get(f.trace) {
            Some(true) => return self.out.push((origin.clone(), span)),
            Some(false) => {
                self.policy.keeping.spans_left_out += 1;
                return;
            }
            None => {}
        }
        let generation = self
            .generations
            .back_mut()
            .expect("one generation is always open");
        let open = self.open.entry(f.trace).or_insert_with(|| Open {
            // Never a generation's number: the trace is listed below.
            seen: u64::MAX,
            first: now,
            last: now,
            has_root: false,
            error: false,
            start_ns: u64::MAX,
            end_ns: 0,
            spans: Vec::new(),
        });
        if open.seen != generation.number {
            open.seen = generation.number;
            generation.traces.push(f.trace);
        }
        open.last = now;
        open.has_root |= f.root;
        open.error |= f.failed;
        open.start_ns = open.start_ns.min(f.start_ns);
        open.end_ns = open.end_ns.max(f.end_ns);
        open.spans.push((origin.clone(), span));
        self.open_spans += 1;
    }

    /// Decides every complete trace (all of them when `all`), and starts
    /// the next generation.
    ///
    /// Only traces that had spans in a generation that has now been quiet
    /// long enough are looked at, so a tick costs what arrived rather than
    /// a look at every waiting trace (at saturation, scanning them all ten
    /// times a second was a sixth of the launcher's CPU).
    fn decide_due(&mut self, now: Instant, all: bool) {
        if all {
            let ids: Vec<TraceKey> = self.open.keys().copied().collect();
            for id in ids {
                self.decide(id);
            }
            return;
        }
        // Early in the process's life an instant may not go back that far:
        // then nothing can be that old.
        let cut = |d: Duration| now.checked_sub(d);
        let (root_quiet, quiet, oldest) =
            (cut(QUIET_WITH_ROOT), cut(QUIET_WITHOUT_ROOT), cut(MAX_WAIT));
        let before = |t: Instant, cut: Option<Instant>| cut.is_some_and(|c| t <= c);
        let last = self
            .generations
            .back_mut()
            .expect("one generation is always open");
        last.ended = Some(now);
        let next = Generation {
            number: last.number + 1,
            ended: None,
            traces: std::mem::take(&mut self.spare),
        };
        self.generations.push_back(next);
        // A trace listed in a generation that ended QUIET_WITH_ROOT ago and
        // not since has had no span for that long.
        while let Some(g) = self.generations.front()
            && g.ended.is_some_and(|t| before(t, root_quiet))
        {
            let mut g = self.generations.pop_front().expect("front exists");
            let ended = g.ended.expect("checked above");
            for &id in &g.traces {
                let Some(o) = self.open.get(&id) else {
                    continue;
                };
                let quiet_since = o.seen == g.number;
                if before(o.first, oldest) || (quiet_since && o.has_root) {
                    self.decide(id);
                } else if quiet_since {
                    self.rootless.push_back((ended, g.number, id));
                }
            }
            g.traces.clear();
            self.spare = g.traces;
        }
        while let Some(&(ended, number, id)) = self.rootless.front()
            && before(ended, quiet)
        {
            self.rootless.pop_front();
            if self.open.get(&id).is_some_and(|o| o.seen == number) {
                self.decide(id);
            }
        }
    }

    /// Too many spans waiting: decides the oldest half early.
    fn decide_oldest(&mut self) {
        let mut by_age: Vec<(Instant, TraceKey)> =
            self.open.iter().map(|(id, o)| (o.first, *id)).collect();
        by_age.sort_unstable();
        for (_, id) in by_age {
            if self.open_spans <= PENDING_SPANS / 2 {
                break;
            }
            self.decide(id);
        }
    }

    fn decide(&mut self, id: TraceKey) {
        let Some(open) = self.open.remove(&id) else {
            return;
        };
        self.open_spans -= open.spans.len();
        let facts = Facts {
            error: open.error,
            duration_ns: open.end_ns.saturating_sub(open.start_ns),
            id_bits: id as u64,
        };
        let at_s = self.started.elapsed().as_secs_f64();
        let written = self.file.bytes + self.estimate(self.out.len());
        let keep = self
            .policy
            .decide(facts, open.spans.len() as u64, written, at_s)
            .is_some();
        if keep {
            self.out.extend(open.spans);
        }
        self.decided.insert(id, keep);
    }

    /// Bytes `spans` decided but not yet written will take (as many as the
    /// spans written so far took each), so decisions of one round see each other.
    fn estimate(&self, spans: usize) -> u64 {
        let each = match self.file.spans {
            0 => SPAN_BYTES_GUESS,
            n => self.file.bytes / n,
        };
        spans as u64 * each
    }

    fn write_out(&mut self) {
        if self.out.is_empty() {
            return;
        }
        let mut spans = std::mem::take(&mut self.out);
        if self.error.is_some() {
            self.lost += spans.len() as u64;
            return;
        }
        let n = spans.len() as u64;
        let before = self.file.spans + self.file.unreadable;
        if let Err(e) = self.file.write(&spans).and_then(|()| self.file.flush()) {
            tracing::warn!("traces.jsonl: {e:#}; no more spans are written");
            self.lost += n - (self.file.spans + self.file.unreadable - before);
            self.error = Some(format!("{e:#}"));
        }
        // The buffer is reused: its capacity is the largest round's.
        spans.clear();
        self.out = spans;
    }
}

/// The traces that had spans during one tick of the writer.
#[derive(Default)]
struct Generation {
    number: u64,
    /// When the tick after it came; `None` while it is being filled.
    ended: Option<Instant>,
    /// Each trace once, in the order of its first span in this generation.
    traces: Vec<TraceKey>,
}

/// How much nicer than the launcher this thread runs.
const NICE: i32 = 10;

/// Lowers this thread's scheduling priority, so that on a saturated machine
/// the replicas and the load get the cores first and the file waits: its
/// queue is bounded, and what does not fit is refused at the collector and
/// counted as dropped (`spans_dropped`). The figures of a run are the
/// replicas'; its traces are a record of them.
fn yield_to_the_run() {
    // On Linux PRIO_PROCESS with a thread id sets that thread's nice value only.
    let me = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(me), NICE) {
        tracing::debug!("traces writer: could not lower its priority: {e}");
    }
}

/// A trace id as a number (see [`raw::trace_key`]).
type TraceKey = u128;

/// A map keyed by trace id, hashed by [`IdHasher`].
type IdMap<V> = HashMap<TraceKey, V, BuildHasherDefault<IdHasher>>;

/// Trace ids are random (W3C), so a couple of multiplies of their halves
/// ([`raw::trace_hash`]) spread them well enough: SipHash on each of the
/// three map operations a trace takes was a tenth of the writer's time at
/// saturation.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = raw::trace_hash(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topolab_services::trace::SpanContext;
    use topolab_services::trace::span::{Kind, SpanBuilder};

    fn span(ctx: SpanContext, parent: Option<[u8; 8]>) -> Vec<u8> {
        let t = Instant::now();
        SpanBuilder::new(ctx, parent, Kind::Server, "a/B".into(), t, t)
            .encode()
            .as_bytes()
            .to_vec()
    }

    /// Ticks every 100 ms from `from` to `to` (in ms after `t0`).
    fn tick(state: &mut State, t0: Instant, from: u64, to: u64) {
        for ms in (from..=to).step_by(100) {
            state.decide_due(t0 + Duration::from_millis(ms), false);
        }
    }

    #[test]
    fn traces_are_decided_once_quiet_long_enough_and_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let file = TracesFile::create(dir.path()).unwrap();
        let mut state = State::new(file, u64::MAX, Arc::default());
        let origin = Arc::new(Origin {
            resource: None,
            schema_url: String::new(),
            scope: None,
            scope_schema_url: String::new(),
        });
        // Far enough from the clock's start that every cut exists.
        let t0 = Instant::now() + Duration::from_secs(60);
        let rooted = SpanContext::new_root(true);
        let rootless = SpanContext::new_root(true);
        let busy = SpanContext::new_root(true);
        let key = |c: &SpanContext| raw::trace_key(&c.trace_id);
        state.place(t0, &origin, span(rooted, None));
        state.place(t0, &origin, span(rootless.child(), Some([7; 8])));
        state.place(t0, &origin, span(busy.child(), Some([7; 8])));

        tick(&mut state, t0, 100, 600);
        assert!(
            state.open.contains_key(&key(&rooted)),
            "decided before 600 ms of quiet"
        );
        tick(&mut state, t0, 700, 800);
        assert!(
            !state.open.contains_key(&key(&rooted)),
            "not decided after 800 ms of quiet"
        );
        assert!(state.open.contains_key(&key(&rootless)));

        // The busy trace keeps getting spans every 300 ms, without its root.
        let mut ms = 900;
        while ms <= 29_500 {
            state.place(
                t0 + Duration::from_millis(ms),
                &origin,
                span(busy.child(), Some([7; 8])),
            );
            tick(&mut state, t0, ms, ms + 200);
            if ms == 4_500 {
                assert!(
                    state.open.contains_key(&key(&rootless)),
                    "decided before 5 s"
                );
            }
            if ms == 6_000 {
                assert!(
                    !state.open.contains_key(&key(&rootless)),
                    "rootless kept past 5 s of quiet"
                );
            }
            ms += 300;
        }
        assert!(
            state.open.contains_key(&key(&busy)),
            "a busy trace decided before 30 s"
        );
        tick(&mut state, t0, 29_800, 31_000);
        assert!(
            !state.open.contains_key(&key(&busy)),
            "a trace waited past 30 s"
        );
        assert!(state.open.is_empty());
        // Nothing is left listed once every trace is decided and quiet.
        tick(&mut state, t0, 31_100, 37_000);
        assert!(state.rootless.is_empty());
        assert!(
            state.generations.len() <= 8,
            "{} generations",
            state.generations.len()
        );
    }
}
