//! The event queue: a binary min-heap of (time, sequence) keys with a small
//! copyable payload, FIFO lanes for events a fixed delay ahead (the hop),
//! and cancellable timers (timeouts). The sequence number makes ties leave in
//! the order they were scheduled, so a run is repeatable to the event.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::timers::{TimerId, Timers};

/// Simulated time in nanoseconds from the start of load: the rules' time,
/// with the start of load as its origin.
pub type Nanos = topolab_rules::Nanos;

/// What happens at an instant. Indices name slots in the world's slabs; the
/// token says which occupant of the slot the event was meant for, so events
/// for a slot freed and reused since are recognised as stale and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The next open-loop arrival of generator `gen`.
    Arrival { generator: u32 },
    /// Closed-loop client `client` of `gen` sends its next request.
    ClientWake { generator: u32, client: u32 },
    /// A request reaches the replica it was sent to (after the hop).
    Deliver { job: u32, token: u64 },
    /// A `work` step ends.
    WorkDone { fiber: u32, token: u64 },
    /// A response reaches its caller (after the hop); `refused`: the
    /// connection was refused (a dead replica), which some pickers notice.
    Reply {
        caller: Caller,
        code: i32,
        refused: bool,
    },
    /// A caller's attempt timed out.
    Timeout { caller: Caller },
    /// A retry's backoff ended.
    Backoff { fiber: u32, token: u64 },
    /// A queued request's caller gave up (`deadlines: honor`).
    QueueDeadline { job: u32, token: u64 },
    /// The telemetry tick.
    Sample,
    /// Fault `index` begins (`start`) or ends.
    Fault { index: u32, start: bool },
    /// A killed `restart: always` replica is back.
    Restart { replica: u32 },
    /// Service `service`'s data changes: its next version appears.
    Version { service: u32 },
    /// A held long poll's time is up: it answers "nothing new".
    HoldEnd { job: u32, token: u64 },
    /// A version pushed down `stream` reaches its subscriber.
    Pushed { stream: u32, version: u64 },
    /// A subscriber's close reaches its stream's replica.
    StreamClosed { stream: u32 },
    /// A subscriber learns its stream broke (its replica was killed).
    StreamBroken { stream: u32 },
    /// A replica's thread has sent a message of a burst (`thread.rs`).
    ThreadDone { replica: u32 },
}

/// Who waits for a response: a generator's request or a fiber of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Root { root: u32, token: u64 },
    Fiber { fiber: u32, token: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    at: Nanos,
    seq: u64,
    event: Event,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and the earliest must leave first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Most fixed-delay lanes; events with other delays go on the heap.
const LANES: usize = 16;

/// The pending events, earliest first. Besides the heap, events scheduled a
/// fixed delay ahead ([`Queue::push_after`]: deliveries and replies, a hop
/// away) go into a FIFO lane per delay: time only moves forward, so each
/// lane is already in order and costs no sifting. Timeouts, which their
/// responses nearly always overtake, are [`Queue::arm`]ed as timers and
/// cancelled, so they never crowd the heap.
#[derive(Debug, Default)]
pub struct Queue {
    heap: BinaryHeap<Entry>,
    lanes: Vec<(Nanos, VecDeque<Entry>)>,
    timers: Timers,
    seq: u64,
    /// Events handed out so far (the benchmark's count; cancelled timers
    /// are not events).
    pub popped: u64,
}

/// Where the earliest pending event is.
enum Source {
    Heap,
    Lane(usize),
    Timer,
}

impl Queue {
    /// Schedules `event` at `at`.
    pub fn push(&mut self, at: Nanos, event: Event) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            event,
        });
    }

    /// Schedules `event` at `now + delay`; `now` never goes back.
    pub fn push_after(&mut self, now: Nanos, delay: Nanos, event: Event) {
        self.seq += 1;
        let e = Entry {
            at: now + delay,
            seq: self.seq,
            event,
        };
        if let Some((_, lane)) = self.lanes.iter_mut().find(|(d, _)| *d == delay) {
            lane.push_back(e);
        } else if self.lanes.len() < LANES {
            self.lanes.push((delay, VecDeque::from([e])));
        } else {
            self.heap.push(e);
        }
    }

    /// Schedules `event` at `at` unless [`Queue::cancel`]led before.
    pub fn arm(&mut self, at: Nanos, event: Event) -> TimerId {
        self.seq += 1;
        self.timers.arm(at, self.seq, event)
    }

    /// Cancels a timer; a fired or cancelled one is left alone.
    pub fn cancel(&mut self, id: TimerId) {
        self.timers.cancel(id);
    }

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(Nanos, Event)> {
        let mut best: Option<(Source, (Nanos, u64))> = self
            .heap
            .peek()
            .map(|top| (Source::Heap, (top.at, top.seq)));
        for (i, (_, lane)) in self.lanes.iter().enumerate() {
            if let Some(h) = lane.front()
                && best.as_ref().is_none_or(|(_, k)| (h.at, h.seq) < *k)
            {
                best = Some((Source::Lane(i), (h.at, h.seq)));
            }
        }
        if let Some(k) = self.timers.peek()
            && best.as_ref().is_none_or(|(_, b)| k < *b)
        {
            best = Some((Source::Timer, k));
        }
        let (at, event) = match best?.0 {
            Source::Heap => self.heap.pop().map(|e| (e.at, e.event))?,
            Source::Lane(i) => self.lanes[i].1.pop_front().map(|e| (e.at, e.event))?,
            Source::Timer => self.timers.pop()?,
        };
        self.popped += 1;
        Some((at, event))
    }

    /// Events still pending.
    pub fn len(&self) -> usize {
        self.heap.len() + self.lanes.iter().map(|(_, l)| l.len()).sum::<usize>() + self.timers.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_ties_in_scheduling_order() {
        let mut q = Queue::default();
        q.push(5, Event::Sample);
        q.push(1, Event::Arrival { generator: 0 });
        q.push(5, Event::Arrival { generator: 1 });
        q.push(3, Event::Arrival { generator: 2 });
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            [
                (1, Event::Arrival { generator: 0 }),
                (3, Event::Arrival { generator: 2 }),
                (5, Event::Sample),
                (5, Event::Arrival { generator: 1 }),
            ]
        );
        assert_eq!(q.popped, 4);
    }

    #[test]
    fn lanes_merge_with_the_heap_in_time_order() {
        let mut q = Queue::default();
        q.push_after(0, 10, Event::Arrival { generator: 0 });
        q.push(5, Event::Sample);
        q.push_after(2, 10, Event::Arrival { generator: 1 });
        q.push_after(1, 3, Event::Arrival { generator: 2 });
        q.push(10, Event::Arrival { generator: 3 });
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(t, _)| t).collect();
        assert_eq!(order, [4, 5, 10, 10, 12]);
        assert!(q.is_empty());
    }

    #[test]
    fn timers_merge_in_order_and_cancelled_ones_are_not_events() {
        let mut q = Queue::default();
        let a = q.arm(7, Event::Arrival { generator: 0 });
        q.push_after(0, 7, Event::Arrival { generator: 1 });
        q.arm(3, Event::Arrival { generator: 2 });
        q.push(7, Event::Arrival { generator: 3 });
        let gone = q.arm(5, Event::Sample);
        q.cancel(gone);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            [
                (3, Event::Arrival { generator: 2 }),
                (7, Event::Arrival { generator: 0 }),
                (7, Event::Arrival { generator: 1 }),
                (7, Event::Arrival { generator: 3 }),
            ]
        );
        q.cancel(a);
        assert_eq!(q.popped, 4);
    }
}
