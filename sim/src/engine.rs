//! The event queue: a binary min-heap of (time, sequence) keys with a small
//! copyable payload. The sequence number makes ties leave in the order they
//! were scheduled, so a run is repeatable to the event.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Simulated time in nanoseconds from the start of load.
pub type Nanos = u64;

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

/// The pending events, earliest first.
#[derive(Debug, Default)]
pub struct Queue {
    heap: BinaryHeap<Entry>,
    seq: u64,
    /// Events handed out so far (the benchmark's count).
    pub popped: u64,
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

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(Nanos, Event)> {
        let e = self.heap.pop()?;
        self.popped += 1;
        Some((e.at, e.event))
    }

    /// Events still pending.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
}
