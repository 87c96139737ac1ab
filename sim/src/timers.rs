//! Cancellable timers: an indexed min-heap of timeouts. Nearly every timeout
//! (an attempt's, a request's, a queued request's deadline) is overtaken by
//! its response; cancelling it at once keeps the heap as small as the
//! requests in flight, where leaving it to fire stale would keep every
//! timeout of the last `timeout` seconds pending (millions at 100,000
//! requests per second) and make every pop walk a deep heap.

use crate::engine::{Event, Nanos};

/// A handle on an armed timer; cancelling a fired or cancelled one does
/// nothing (the generation tells a slot's occupants apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

impl TimerId {
    /// No timer: cancelling it does nothing.
    pub const NONE: TimerId = TimerId {
        index: u32::MAX,
        generation: 0,
    };
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    generation: u32,
    /// Where the slot sits in the heap; `FREE` when it holds no timer.
    pos: u32,
    event: Event,
}

const FREE: u32 = u32::MAX;

/// The armed timers, earliest (time, sequence) first.
#[derive(Debug, Default)]
pub struct Timers {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// (time, sequence, slot): the keys inline, so sifting reads no slot.
    heap: Vec<(Nanos, u64, u32)>,
}

impl Timers {
    /// Arms a timer for `event` at `at`; `seq` orders ties.
    pub fn arm(&mut self, at: Nanos, seq: u64, event: Event) -> TimerId {
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].event = event;
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    pos: FREE,
                    event,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let pos = self.heap.len();
        self.heap.push((at, seq, index));
        self.slots[index as usize].pos = pos as u32;
        self.sift_up(pos);
        TimerId {
            index,
            generation: self.slots[index as usize].generation,
        }
    }

    /// Disarms `id` if it is still armed.
    pub fn cancel(&mut self, id: TimerId) {
        let Some(slot) = self.slots.get(id.index as usize) else {
            return;
        };
        if slot.generation != id.generation || slot.pos == FREE {
            return;
        }
        let pos = slot.pos as usize;
        self.remove_at(pos);
    }

    /// The earliest timer's (time, sequence).
    pub fn peek(&self) -> Option<(Nanos, u64)> {
        self.heap.first().map(|&(at, seq, _)| (at, seq))
    }

    /// Takes the earliest timer.
    pub fn pop(&mut self) -> Option<(Nanos, Event)> {
        let &(at, _, index) = self.heap.first()?;
        let event = self.slots[index as usize].event;
        self.remove_at(0);
        Some((at, event))
    }

    /// Timers armed.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when none is armed.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    fn remove_at(&mut self, pos: usize) {
        let index = self.heap[pos].2;
        let slot = &mut self.slots[index as usize];
        slot.pos = FREE;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        let last = self.heap.len() - 1;
        self.heap.swap(pos, last);
        self.heap.pop();
        if pos < last {
            self.slots[self.heap[pos].2 as usize].pos = pos as u32;
            self.sift_down(pos);
            self.sift_up(pos);
        }
    }

    fn key(&self, pos: usize) -> (Nanos, u64) {
        let (at, seq, _) = self.heap[pos];
        (at, seq)
    }

    fn place(&mut self, pos: usize) {
        self.slots[self.heap[pos].2 as usize].pos = pos as u32;
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.key(parent) <= self.key(pos) {
                break;
            }
            self.heap.swap(parent, pos);
            self.place(pos);
            pos = parent;
        }
        self.place(pos);
    }

    fn sift_down(&mut self, mut pos: usize) {
        let n = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && self.key(right) < self.key(left) {
                right
            } else {
                left
            };
            if self.key(pos) <= self.key(child) {
                break;
            }
            self.heap.swap(pos, child);
            self.place(pos);
            pos = child;
        }
        self.place(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn ev(i: u32) -> Event {
        Event::Arrival { generator: i }
    }

    #[test]
    fn cancelled_timers_never_fire_and_stale_handles_do_nothing() {
        let mut t = Timers::default();
        let a = t.arm(30, 1, ev(0));
        let b = t.arm(10, 2, ev(1));
        let c = t.arm(20, 3, ev(2));
        t.cancel(b);
        assert_eq!(t.pop(), Some((20, ev(2))));
        // `c` fired: its slot is reused, and the old handle must not cancel
        // the new occupant.
        let d = t.arm(25, 4, ev(3));
        t.cancel(c);
        t.cancel(b);
        assert_eq!(t.len(), 2);
        assert_eq!(t.pop(), Some((25, ev(3))));
        t.cancel(d);
        t.cancel(TimerId::NONE);
        assert_eq!(t.pop(), Some((30, ev(0))));
        t.cancel(a);
        assert!(t.is_empty() && t.pop().is_none());
    }

    #[test]
    fn random_arms_and_cancels_leave_in_key_order() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut t = Timers::default();
        let mut live: Vec<(Nanos, u64, TimerId)> = Vec::new();
        let mut seq = 0;
        for _ in 0..2000 {
            seq += 1;
            let at = rng.random_range(0..500);
            live.push((at, seq, t.arm(at, seq, ev(seq as u32))));
            if rng.random_bool(0.4) {
                let k = rng.random_range(0..live.len());
                t.cancel(live.swap_remove(k).2);
            }
        }
        live.sort_by_key(|&(at, seq, _)| (at, seq));
        let got: Vec<_> = std::iter::from_fn(|| t.pop()).collect();
        let want: Vec<_> = live.iter().map(|&(at, s, _)| (at, ev(s as u32))).collect();
        assert_eq!(got, want);
    }
}
