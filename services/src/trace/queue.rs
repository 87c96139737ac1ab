//! The spans waiting for export, between the request path and the export
//! task: each thread fills a batch of its own ([`Shard`]), and a batch that
//! fills is handed to a bounded queue of full batches.
//!
//! One shared batch under one lock had every request-path thread write the
//! same lock word, counter and buffer in turn: on a saturated replica with
//! two workers those cache lines went back and forth between the cores,
//! about a tenth of what tracing cost the replica. With a batch per thread
//! the request path takes a lock nobody else wants, and the shared state is
//! touched once a batch.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::batch::Spans;

/// Spans per `Export` call: a thread's batch is handed over when it holds
/// this many.
pub const BATCH: usize = 512;
/// Full batches waiting for the export task; past this, a thread's batch
/// stays full and its new spans are dropped (and counted) rather than
/// slowing requests down or growing without bound.
const FULL_BATCHES: usize = 32;
/// Spans waiting at most: the full batches and every thread's batch.
pub const QUEUE: usize = (FULL_BATCHES + SHARDS) * BATCH;
/// Batches being filled. Threads share one only past this many threads
/// recording (a replica's runtime has one per core).
const SHARDS: usize = 8;

/// One thread's batch being filled, alone on its cache lines.
#[derive(Debug)]
#[repr(align(128))]
struct Shard(Mutex<Filling>);

#[derive(Debug)]
struct Filling {
    spans: Spans,
    /// Spans handed to this shard, and those of them dropped.
    recorded: u64,
    dropped: u64,
}

/// What the export task takes from the shards, under its own lock.
#[derive(Debug, Default)]
struct Full {
    batches: VecDeque<Spans>,
    /// Bytes of the last full batch: a new batch is made that large, so
    /// that it is not grown (and copied) as it fills.
    size: usize,
}

/// What happened to a span given to [`Queue::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// It waits in a batch that already waited.
    Added,
    /// It is the first of its batch, or its batch filled and was handed
    /// over: the export task should look.
    Wake,
    /// Every batch was full: it was dropped (and counted).
    Dropped,
}

/// Spans waiting for export, bounded by [`QUEUE`].
#[derive(Debug)]
pub struct Queue {
    shards: [Shard; SHARDS],
    full: Mutex<Full>,
    /// The room each batch keeps for the head of its request.
    room: usize,
}

/// The shard of the calling thread: threads take shards in turn as they
/// first record, so a runtime's workers each have their own.
fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    MINE.with(|i| *i)
}

impl Queue {
    /// An empty queue whose batches keep `room` bytes before their spans
    /// (see [`Frame::head_room`](super::batch::Frame::head_room)).
    pub fn new(room: usize) -> Self {
        Queue {
            shards: std::array::from_fn(|_| {
                Shard(Mutex::new(Filling {
                    spans: Spans::new(room, 0),
                    recorded: 0,
                    dropped: 0,
                }))
            }),
            full: Mutex::default(),
            room,
        }
    }

    /// Appends one span (its `Span` message bytes) to this thread's batch.
    pub fn push(&self, span: &[u8]) -> Pushed {
        let mut f = self.shards[my_shard()].0.lock();
        f.recorded += 1;
        // A batch that filled while the queue was full waits for room.
        if f.spans.len() >= BATCH && !self.hand_over(&mut f.spans) {
            f.dropped += 1;
            return Pushed::Dropped;
        }
        f.spans.push(span);
        match f.spans.len() {
            1 => Pushed::Wake,
            BATCH if self.hand_over(&mut f.spans) => Pushed::Wake,
            _ => Pushed::Added,
        }
    }

    /// Moves a full batch to the queue of full batches, leaving an empty
    /// one in its place; false if that queue is full.
    fn hand_over(&self, spans: &mut Spans) -> bool {
        let mut full = self.full.lock();
        if full.batches.len() >= FULL_BATCHES {
            return false;
        }
        full.size = spans.size();
        let fresh = Spans::new(self.room, full.size);
        full.batches.push_back(std::mem::replace(spans, fresh));
        true
    }

    /// The oldest full batch, if any.
    pub fn take_full(&self) -> Option<Spans> {
        self.full.lock().batches.pop_front()
    }

    /// Everything waiting: the full batches, oldest first, then what each
    /// thread's batch holds.
    pub fn take_all(&self) -> Vec<Spans> {
        let mut all: Vec<Spans> = Vec::new();
        for shard in &self.shards {
            let mut f = shard.0.lock();
            if !f.spans.is_empty() {
                all.push(std::mem::replace(&mut f.spans, Spans::new(self.room, 0)));
            }
        }
        let mut full = self.full.lock();
        let mut taken: Vec<Spans> = full.batches.drain(..).collect();
        taken.append(&mut all);
        taken
    }

    /// Whether any span waits.
    pub fn is_empty(&self) -> bool {
        self.full.lock().batches.is_empty()
            && self.shards.iter().all(|s| s.0.lock().spans.is_empty())
    }

    /// Spans pushed so far, and those of them dropped because every batch
    /// was full.
    pub fn counts(&self) -> (u64, u64) {
        self.shards.iter().fold((0, 0), |(r, d), s| {
            let f = s.0.lock();
            (r + f.recorded, d + f.dropped)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_handed_over_when_it_fills_and_the_task_is_woken() {
        let q = Queue::new(0);
        assert_eq!(q.push(b"a"), Pushed::Wake, "the first span arms the linger");
        for _ in 1..BATCH - 1 {
            assert_eq!(q.push(b"a"), Pushed::Added);
        }
        assert!(q.take_full().is_none());
        assert_eq!(q.push(b"a"), Pushed::Wake, "the batch is full");
        assert_eq!(q.take_full().map(|s| s.len()), Some(BATCH));
        assert!(q.is_empty());
        assert_eq!(q.push(b"b"), Pushed::Wake, "a fresh batch");
    }

    #[test]
    fn past_the_bound_new_spans_are_dropped_and_counted() {
        let q = Queue::new(0);
        let n = (FULL_BATCHES + 1) * BATCH + 10;
        let dropped = (0..n).filter(|_| q.push(b"x") == Pushed::Dropped).count();
        // This thread's shard holds one full batch that found no room.
        assert_eq!(dropped, n - (FULL_BATCHES + 1) * BATCH);
        assert_eq!(q.counts(), (n as u64, dropped as u64));
        // Room again: the waiting batch goes over, and spans are taken.
        assert!(q.take_full().is_some());
        assert_eq!(q.push(b"y"), Pushed::Wake);
        let spans: usize = q.take_all().iter().map(Spans::len).sum();
        assert_eq!(spans, FULL_BATCHES * BATCH + 1);
        assert!(q.is_empty());
    }

    #[test]
    fn take_all_gathers_every_threads_batch() {
        let q = std::sync::Arc::new(Queue::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        q.push(b"z");
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let spans: usize = q.take_all().iter().map(Spans::len).sum();
        assert_eq!(spans, 400);
        assert_eq!(q.counts(), (400, 0));
    }
}
