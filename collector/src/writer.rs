//! The thread that turns what the collector receives into `traces.jsonl`:
//! spans wait, grouped by trace, until their trace is complete, then the
//! [`keep`](super::keep) policy decides the whole trace and kept traces are
//! written at once. A trace is complete the moment its root and every span
//! its spans count (`topolab.children`, which topolab's processes write
//! where they know it) are in, so most traces never wait (a one-span trace
//! is decided as it arrives, while its bytes are still in cache); a trace
//! with a span that does not count (an outside exporter's, a failed call's)
//! waits for its root and a moment of quiet ([`Quiet`]). Everything
//! held is bounded: the queue from the collector (full: the export is
//! refused and counted), the traces waiting (full: the oldest are decided
//! early) and the memory of past decisions (for spans that come late: a
//! fixed table, [`Decisions`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use prost::bytes::Bytes;

use super::decisions::Decisions;
use super::file::{Origin, TracesFile};
use super::ids::{IdMap, TraceKey};
use super::keep::{Facts, Keeping, Policy};
use super::quiet::{Quiet, Seen, TICK};
use super::raw::{self, RawResourceSpans};

/// Spans queued between the collector and this thread at most.
pub const QUEUE_SPANS: usize = 65_536;
/// Spans waiting for their trace to complete at most.
const PENDING_SPANS: usize = 100_000;
/// Distinct origins (processes) interned; past this each batch has its own.
const ORIGINS: usize = 8_192;
/// What one span takes in OTLP/JSON, before any is written.
const SPAN_BYTES_GUESS: u64 = 700;
/// Spans decided kept that are written as soon as they are this many,
/// rather than at the next tick: written while still in cache.
const WRITE_SPANS: usize = 256;

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
    /// The generation of its last span (see [`Quiet`]).
    seen: u64,
    first: Instant,
    last: Instant,
    has_root: bool,
    error: bool,
    start_ns: u64,
    end_ns: u64,
    /// Spans its spans said are coming (`topolab.children`), less those in
    /// other than the root: with the root in and every span counting, 0
    /// means the trace is whole.
    owed: i64,
    /// The same count by span ids: each span in adds its parent's id (mixed)
    /// and takes away its own once per child it says it has. Back at 0 with
    /// `owed` means every span in is the child of one in, as many as each
    /// said: a span missing cannot be made up for by another one's child.
    balance: u64,
    /// Every span in said how many children it has.
    counted: bool,
    spans: Vec<(Arc<Origin>, Bytes)>,
}

impl Open {
    fn whole(&self) -> bool {
        self.has_root && self.counted && self.owed == 0 && self.balance == 0
    }
}

struct State {
    file: TracesFile,
    policy: Policy,
    queued: Arc<AtomicUsize>,
    started: Instant,
    /// Seconds into the run as of the batch or tick being handled (read
    /// once for all its decisions).
    at_s: f64,
    open: IdMap<Open>,
    open_spans: usize,
    decided: Decisions,
    origins: HashMap<Vec<u8>, Arc<Origin>>,
    out: Vec<(Arc<Origin>, Bytes)>,
    /// Spans written since the file was last flushed.
    unflushed: bool,
    /// When waiting traces are looked at again.
    quiet: Quiet,
    /// The traces one tick decides (a buffer kept between ticks).
    due: Vec<TraceKey>,
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
            at_s: 0.0,
            open: IdMap::default(),
            open_spans: 0,
            // Its whole table up front: a long run's resident size is a
            // short one's.
            decided: Decisions::default(),
            origins: HashMap::new(),
            out: Vec::new(),
            unflushed: false,
            quiet: Quiet::default(),
            due: Vec::new(),
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
                self.write_out(true);
            }
        }
        self.decide_due(Instant::now(), true);
        self.write_out(true);
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
        self.at_s = (now - self.started).as_secs_f64();
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
        if self.out.len() >= WRITE_SPANS {
            self.write_out(false);
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

    fn place(&mut self, now: Instant, origin: &Arc<Origin>, span: Bytes) {
        let Some(f) = raw::facts(&span) else {
            self.lost += 1;
            return;
        };
        let generation = self.quiet.current();
        // A trace in `open` is not decided yet, so `decided` (a miss in a
        // table of a MiB) is looked up once a trace, not once a span.
        let open = match self.open.entry(f.trace) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(_) if f.root && f.children == Some(0) => {
                // The whole trace in one span: decided now, never waiting,
                // and not remembered, since no span can follow it.
                let facts = Facts {
                    error: f.failed,
                    duration_ns: f.end_ns.saturating_sub(f.start_ns),
                    id_bits: f.trace as u64,
                };
                if self.judge(facts, 1) {
                    self.out.push((origin.clone(), span));
                }
                return;
            }
            Entry::Vacant(v) => match self.decided.get(f.trace) {
                Some(true) => return self.out.push((origin.clone(), span)),
                Some(false) => {
                    self.policy.keeping.spans_left_out += 1;
                    return;
                }
                None => v.insert(Open {
                    // Never a generation's number: the trace is listed below.
                    seen: u64::MAX,
                    first: now,
                    last: now,
                    has_root: false,
                    error: false,
                    start_ns: u64::MAX,
                    end_ns: 0,
                    owed: 0,
                    balance: 0,
                    counted: true,
                    spans: Vec::new(),
                }),
            },
        };
        if open.seen != generation {
            open.seen = generation;
            self.quiet.list(f.trace);
        }
        open.last = now;
        open.has_root |= f.root;
        open.error |= f.failed;
        open.start_ns = open.start_ns.min(f.start_ns);
        open.end_ns = open.end_ns.max(f.end_ns);
        open.owed += f.children.map_or(0, i64::from) - i64::from(!f.root);
        open.balance = open
            .balance
            .wrapping_add(if f.root { 0 } else { mix(f.parent_id) })
            .wrapping_sub(mix(f.span_id).wrapping_mul(f.children.map_or(0, u64::from)));
        open.counted &= f.children.is_some();
        // Its own copy: a slice would hold the whole request while it waits.
        open.spans
            .push((origin.clone(), Bytes::copy_from_slice(&span)));
        self.open_spans += 1;
        if open.whole() {
            self.decide(f.trace);
        }
    }

    /// Decides every complete trace (all of them when `all`), and starts
    /// the next generation (see [`Quiet`]).
    fn decide_due(&mut self, now: Instant, all: bool) {
        self.at_s = now.saturating_duration_since(self.started).as_secs_f64();
        let mut due = std::mem::take(&mut self.due);
        if all {
            due.extend(self.open.keys());
        } else {
            let open = &self.open;
            self.quiet.tick(now, &mut due, |id| {
                open.get(&id).map(|o| Seen {
                    generation: o.seen,
                    first: o.first,
                    has_root: o.has_root,
                })
            });
        }
        for &id in &due {
            self.decide(id);
        }
        due.clear();
        self.due = due;
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
        let keep = self.judge(facts, open.spans.len() as u64);
        self.decided.insert(id, keep);
        if keep {
            self.out.extend(open.spans);
        }
    }

    /// The keeping policy's decision for a whole trace of `spans` spans.
    fn judge(&mut self, facts: Facts, spans: u64) -> bool {
        let written = self.file.bytes + self.estimate(self.out.len());
        self.policy
            .decide(facts, spans, written, self.at_s)
            .is_some()
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

    /// Writes the spans decided kept, and with `flush` everything written
    /// so far to the file (at each tick: the file then holds whole lines).
    fn write_out(&mut self, flush: bool) {
        let flush = flush && (self.unflushed || !self.out.is_empty());
        if self.out.is_empty() && !flush {
            return;
        }
        let mut spans = std::mem::take(&mut self.out);
        if self.error.is_some() {
            self.lost += spans.len() as u64;
            return;
        }
        let n = spans.len() as u64;
        let before = self.file.spans + self.file.unreadable;
        self.unflushed = !flush;
        let written = self.file.write(&spans);
        if let Err(e) = written.and_then(|()| if flush { self.file.flush() } else { Ok(()) }) {
            tracing::warn!("traces.jsonl: {e:#}; no more spans are written");
            self.lost += n - (self.file.spans + self.file.unreadable - before);
            self.error = Some(format!("{e:#}"));
        }
        // The buffer is reused: its capacity is the largest round's.
        spans.clear();
        self.out = spans;
    }
}

/// A span id spread over all 64 bits, so that ids an outside exporter
/// numbers in sequence do not sum to one another.
fn mix(id: u64) -> u64 {
    let x = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29)
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

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
