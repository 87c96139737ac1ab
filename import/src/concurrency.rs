//! The most requests one instance served at once, swept over its server
//! spans as they stream in roughly time order: spans wait in a bounded
//! buffer, the earlier half is swept once it is full, and a span that
//! arrives after the sweep passed its start is still counted against the
//! spans open then.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Spans buffered per instance before a sweep.
const BUFFER: usize = 8192;

/// One instance's concurrency sweep.
#[derive(Debug, Default)]
pub struct Concurrency {
    pending: Vec<(u64, u64)>,
    open: BinaryHeap<Reverse<u64>>,
    now: u64,
    /// The most spans open at once so far.
    pub max: u32,
}

impl Concurrency {
    /// One span from `start` to `end` ns.
    pub fn add(&mut self, start: u64, end: u64) {
        if start < self.now {
            // Late: counted against what is open now.
            if end > self.now {
                self.open.push(Reverse(end));
                self.max = self.max.max(self.open.len() as u32);
            }
            return;
        }
        self.pending.push((start, end));
        if self.pending.len() >= BUFFER {
            self.sweep(BUFFER / 2);
        }
    }

    fn sweep(&mut self, upto: usize) {
        self.pending.sort_unstable();
        let rest = self.pending.split_off(upto.min(self.pending.len()));
        for (s, e) in std::mem::replace(&mut self.pending, rest) {
            while self.open.peek().is_some_and(|Reverse(end)| *end <= s) {
                self.open.pop();
            }
            self.open.push(Reverse(e));
            self.now = s;
            self.max = self.max.max(self.open.len() as u32);
        }
    }

    /// Sweeps what is left and returns the most open at once.
    pub fn finish(&mut self) -> u32 {
        self.sweep(usize::MAX);
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_spans_count_and_touching_ones_do_not() {
        let mut c = Concurrency::default();
        c.add(0, 10);
        c.add(5, 15);
        c.add(6, 7);
        c.add(15, 20);
        assert_eq!(c.finish(), 3);
        let mut c = Concurrency::default();
        (0..20_000u64).for_each(|i| c.add(i * 10, i * 10 + 10));
        assert_eq!(c.finish(), 1);
    }
}
