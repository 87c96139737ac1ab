//! Admission and queue discipline of one replica: `workers` requests run at
//! once, up to `queue` more wait, and past that a new request is turned away
//! at once (a request already being served that needs a worker again waits
//! without a bound: the bound is an admission limit). A freed worker goes to
//! the oldest (`fifo`) or newest (`lifo`) waiter still waiting, else idles.
//! Shared because this is where queueing, the thing topolab is built to
//! show, is decided.
//!
//! The queue holds the caller's own handle per waiter (`W`: a replica's
//! channel to wake a task, the simulator's job or fiber). A waiter that gives
//! up leaves lazily: it is counted out at once and its handle skipped when a
//! freed worker meets it, so leaving costs nothing per waiter behind it.

use std::collections::VecDeque;

use topolab_model::Discipline;

/// What became of a request that asked for a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A worker was free and nobody waited: it works now.
    Work,
    /// It waits; `depth` requests wait now, itself included.
    Wait { depth: u32 },
    /// The queue is full (`depth` of `capacity`): turned away.
    Full { depth: u32, capacity: u32 },
}

/// What a freed worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freed {
    /// It went to a waiter (it stays busy, changing hands).
    HandedOn,
    /// Nobody waited: it idles.
    Idle,
}

/// One replica's workers and queue. `repr(C)` keeps the counts and limits,
/// which every request reads, in the first 16 bytes and the queue, which only
/// waiting requests touch, after them: the simulator holds many replicas and
/// lays out its own fields around these.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Admission<W> {
    busy: u32,
    /// Waiters still waiting (the queue may also hold ones that left).
    waiting: u32,
    workers: u32,
    /// `u32::MAX`: unbounded.
    capacity: u32,
    discipline: Discipline,
    queue: VecDeque<W>,
}

/// Past this many handles of waiters that left, the queue is swept of them
/// (when they also outnumber the waiters), so its memory stays bounded.
const SWEEP_AFTER: usize = 64;

impl<W> Admission<W> {
    /// `workers` (at least one) with a queue of `capacity` (`None`:
    /// unbounded), freed workers going by `discipline`.
    pub fn new(workers: u32, capacity: Option<u32>, discipline: Discipline) -> Self {
        Admission {
            busy: 0,
            waiting: 0,
            workers: workers.max(1),
            capacity: capacity.unwrap_or(u32::MAX),
            discipline,
            queue: VecDeque::new(),
        }
    }

    /// A new request asks for a worker: it works, waits (its handle made by
    /// `waiter` and queued) or is turned away, decided here and now.
    #[inline]
    pub fn arrive(&mut self, waiter: impl FnOnce() -> W) -> Entry {
        self.enter(true, waiter)
    }

    /// A request already being served asks for a worker again (the `async`
    /// model's later `work` steps): it works or waits, never turned away.
    #[inline]
    pub fn reenter(&mut self, waiter: impl FnOnce() -> W) -> Entry {
        self.enter(false, waiter)
    }

    #[inline]
    fn enter(&mut self, bounded: bool, waiter: impl FnOnce() -> W) -> Entry {
        if self.busy < self.workers && self.waiting == 0 {
            self.busy += 1;
            return Entry::Work;
        }
        if bounded && self.waiting >= self.capacity {
            return Entry::Full {
                depth: self.waiting,
                capacity: self.capacity,
            };
        }
        self.queue.push_back(waiter());
        self.waiting += 1;
        Entry::Wait {
            depth: self.waiting,
        }
    }

    /// A worker is freed: it goes to the next waiter by the discipline,
    /// skipping those that left (`take` hands the worker over and says
    /// whether its waiter was still there), or idles.
    #[inline]
    pub fn release(&mut self, mut take: impl FnMut(W) -> bool) -> Freed {
        if self.busy > self.workers {
            // Fewer workers than busy ones (see `resize`): this one retires.
            self.busy -= 1;
            return Freed::Idle;
        }
        while self.waiting > 0 {
            let next = match self.discipline {
                Discipline::Fifo => self.queue.pop_front(),
                Discipline::Lifo => self.queue.pop_back(),
            };
            // None cannot happen while someone waits; idle if it did.
            let Some(w) = next else { break };
            if take(w) {
                self.waiting -= 1;
                if self.waiting == 0 {
                    // Only handles of waiters that left remain.
                    self.queue.clear();
                }
                return Freed::HandedOn;
            }
        }
        self.busy = self.busy.saturating_sub(1);
        Freed::Idle
    }

    /// Changes the limits while requests are held (the lab): new workers
    /// take waiters at once (`take` as in [`Admission::release`]); past
    /// fewer workers, the busy ones finish and retire; a smaller queue
    /// turns away no waiter, only arrivals until it is below its limit.
    pub fn resize(&mut self, workers: u32, capacity: Option<u32>, mut take: impl FnMut(W) -> bool) {
        self.workers = workers.max(1);
        self.capacity = capacity.unwrap_or(u32::MAX);
        while self.busy < self.workers && self.waiting > 0 {
            self.busy += 1;
            if self.release(&mut take) == Freed::Idle {
                break;
            }
        }
    }

    /// A waiter gave up before it got a worker. Its handle stays queued, to
    /// be skipped (`take` must then refuse it); `stayed` tells the handles
    /// of waiters still waiting, for an occasional sweep.
    pub fn leave(&mut self, stayed: impl FnMut(&W) -> bool) {
        self.waiting = self.waiting.saturating_sub(1);
        if self.waiting == 0 {
            self.queue.clear();
        } else if self.queue.len() > 2 * self.waiting as usize + SWEEP_AFTER {
            self.queue.retain(stayed);
        }
    }

    /// The process died: nobody works, nobody waits.
    pub fn clear(&mut self) {
        self.busy = 0;
        self.waiting = 0;
        self.queue.clear();
    }

    /// Workers busy now.
    #[inline]
    pub fn busy(&self) -> u32 {
        self.busy
    }

    /// Requests waiting for a worker now.
    #[inline]
    pub fn waiting(&self) -> u32 {
        self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resize_takes_waiters_at_once_and_retires_the_extra_workers() {
        let mut a: Admission<u32> = Admission::new(1, Some(2), Discipline::Fifo);
        assert_eq!(a.arrive(|| 0), Entry::Work);
        assert_eq!(a.arrive(|| 1), Entry::Wait { depth: 1 });
        assert_eq!(a.arrive(|| 2), Entry::Wait { depth: 2 });
        let mut taken = Vec::new();
        a.resize(3, Some(5), |w| {
            taken.push(w);
            true
        });
        assert_eq!(taken, [1, 2]);
        assert_eq!((a.busy(), a.waiting()), (3, 0));
        a.resize(1, Some(0), |_| true);
        assert!(matches!(a.arrive(|| 3), Entry::Full { .. }));
        // Two of the three busy retire as they finish; the third stays.
        assert_eq!(a.release(|_| true), Freed::Idle);
        assert_eq!(a.release(|_| true), Freed::Idle);
        assert_eq!(a.busy(), 1);
    }

    /// Waiters are numbers; `gone` lists those that left.
    fn release(a: &mut Admission<u32>, gone: &[u32]) -> Option<u32> {
        let mut got = None;
        match a.release(|w| {
            let here = !gone.contains(&w);
            if here {
                got = Some(w);
            }
            here
        }) {
            Freed::HandedOn => got,
            Freed::Idle => None,
        }
    }

    #[test]
    fn a_free_worker_is_taken_at_once_and_a_full_queue_turns_away() {
        let mut a = Admission::new(2, Some(0), Discipline::Fifo);
        assert_eq!(a.arrive(|| 1), Entry::Work);
        assert_eq!(a.arrive(|| 2), Entry::Work);
        assert_eq!(
            a.arrive(|| 3),
            Entry::Full {
                depth: 0,
                capacity: 0
            }
        );
        assert_eq!(release(&mut a, &[]), None);
        assert_eq!(a.busy(), 1);
    }

    #[test]
    fn the_queue_never_holds_more_than_its_capacity() {
        let mut a = Admission::new(1, Some(3), Discipline::Fifo);
        assert_eq!(a.arrive(|| 0), Entry::Work);
        let entries: Vec<Entry> = (1..=10).map(|i| a.arrive(|| i)).collect();
        assert_eq!(entries[..3], [1, 2, 3].map(|depth| Entry::Wait { depth }));
        assert!(entries[3..].iter().all(|e| *e
            == Entry::Full {
                depth: 3,
                capacity: 3
            }));
        assert_eq!(a.waiting(), 3);
    }

    #[test]
    fn a_reentry_is_never_turned_away() {
        let mut a = Admission::new(1, Some(0), Discipline::Fifo);
        assert_eq!(a.arrive(|| 0), Entry::Work);
        assert_eq!(a.reenter(|| 1), Entry::Wait { depth: 1 });
        assert_eq!(
            a.arrive(|| 2),
            Entry::Full {
                depth: 1,
                capacity: 0
            }
        );
    }

    #[test]
    fn nobody_jumps_the_queue_while_someone_waits() {
        let mut a = Admission::new(1, None, Discipline::Fifo);
        a.arrive(|| 0);
        a.arrive(|| 1);
        // The worker goes to 1, so a newcomer still waits.
        assert_eq!(release(&mut a, &[]), Some(1));
        assert_eq!(a.arrive(|| 2), Entry::Wait { depth: 1 });
        assert_eq!(a.busy(), 1);
    }

    #[test]
    fn fifo_serves_the_oldest_and_lifo_the_newest() {
        for (d, order) in [(Discipline::Fifo, [1, 2, 3]), (Discipline::Lifo, [3, 2, 1])] {
            let mut a = Admission::new(1, None, d);
            for i in 0..4 {
                a.arrive(|| i);
            }
            let served: Vec<u32> = (0..3).map(|_| release(&mut a, &[]).unwrap()).collect();
            assert_eq!(served, order, "{d:?}");
            assert_eq!(release(&mut a, &[]), None);
            assert_eq!(a.busy(), 0);
        }
    }

    #[test]
    fn a_waiter_that_left_is_skipped_and_makes_room() {
        let mut a = Admission::new(1, Some(2), Discipline::Fifo);
        a.arrive(|| 0);
        a.arrive(|| 1);
        a.arrive(|| 2);
        assert!(matches!(a.arrive(|| 3), Entry::Full { .. }));
        a.leave(|&w| w != 1);
        assert_eq!(a.waiting(), 1);
        assert_eq!(a.arrive(|| 4), Entry::Wait { depth: 2 });
        assert_eq!(release(&mut a, &[1]), Some(2));
        assert_eq!(release(&mut a, &[1]), Some(4));
        assert_eq!(release(&mut a, &[1]), None);
        assert_eq!((a.busy(), a.waiting()), (0, 0));
    }

    #[test]
    fn handles_of_waiters_that_left_do_not_pile_up() {
        let mut a = Admission::new(1, None, Discipline::Lifo);
        a.arrive(|| 0);
        a.arrive(|| u32::MAX); // waits throughout
        for i in 1..=1000 {
            a.arrive(|| i);
            a.leave(|&w| w == u32::MAX || w > i);
            assert!(a.queue.len() <= 2 + SWEEP_AFTER + 1, "{}", a.queue.len());
        }
        assert_eq!(a.waiting(), 1);
        assert_eq!(
            release(&mut a, &(1..=1000).collect::<Vec<_>>()),
            Some(u32::MAX)
        );
        assert!(a.queue.is_empty());
    }

    #[test]
    fn the_last_waiter_leaving_empties_the_queue() {
        let mut a = Admission::new(1, None, Discipline::Lifo);
        a.arrive(|| 0);
        a.arrive(|| 1);
        a.leave(|_| false);
        assert!(a.queue.is_empty());
        assert_eq!(release(&mut a, &[]), None);
    }

    #[test]
    fn a_death_clears_everything() {
        let mut a = Admission::new(1, None, Discipline::Fifo);
        a.arrive(|| 0);
        a.arrive(|| 1);
        a.clear();
        assert_eq!((a.busy(), a.waiting()), (0, 0));
        assert_eq!(a.arrive(|| 2), Entry::Work);
    }
}
