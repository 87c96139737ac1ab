//! The bounded queue in front of a replica's worker pool: `workers` requests
//! run at once, up to `queue` wait, and past that a request is turned away at
//! once. A freed worker goes to the oldest (`fifo`) or newest (`lifo`) waiter.
//! The rule is `topolab_rules::admission` (the simulator's too); this keeps
//! it behind a lock and wakes a waiting task through a oneshot channel.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use topolab_model::Discipline;
use topolab_rules::admission::{self, Entry};

/// Why a request was not let in: the waiting room was full.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue full ({depth}/{capacity})")]
pub struct QueueFull {
    /// Requests waiting when this one arrived.
    pub depth: usize,
    /// The service's `queue` setting.
    pub capacity: u32,
}

/// The worker pool and its waiting room; cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct Admission {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    /// Each waiter is handed its worker through its sender.
    rule: admission::Admission<oneshot::Sender<()>>,
    max_depth: usize,
}

impl Admission {
    /// A pool of `workers` with a waiting room of `capacity` (`None`: unbounded).
    pub fn new(workers: u32, capacity: Option<u32>, discipline: Discipline) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                rule: admission::Admission::new(workers, capacity, discipline),
                max_depth: 0,
            })),
        }
    }

    /// Asks for a worker for a newly arrived request: a free worker, a place in
    /// the queue, or [`QueueFull`] at once. The decision is taken here, not when
    /// the returned future is first polled, so rejection never waits.
    pub fn enter(&self) -> Result<Acquire, QueueFull> {
        self.enqueue(true)
    }

    /// Asks for a worker for a request already being served (the `async`
    /// model's later `work` steps). It waits in the same queue but is never
    /// refused: the queue bound is an admission limit on new arrivals.
    pub fn reenter(&self) -> Acquire {
        // Cannot fail: the bound is not checked for re-entries.
        self.enqueue(false).expect("re-entry is never refused")
    }

    fn enqueue(&self, bounded: bool) -> Result<Acquire, QueueFull> {
        let mut st = self.lock();
        let mut waiting = None;
        let waiter = || {
            let (tx, rx) = oneshot::channel();
            waiting = Some(rx);
            tx
        };
        let entry = match bounded {
            true => st.rule.arrive(waiter),
            false => st.rule.reenter(waiter),
        };
        match entry {
            Entry::Work => Ok(Acquire::ready(self.permit())),
            Entry::Full { depth, capacity } => Err(QueueFull {
                depth: depth as usize,
                capacity,
            }),
            Entry::Wait { depth } => {
                st.max_depth = st.max_depth.max(depth as usize);
                Ok(Acquire {
                    admission: self.clone(),
                    waiting,
                    ready: None,
                    depth_at_entry: depth as usize,
                })
            }
        }
    }

    /// Changes the workers and the queue limit while requests are held
    /// (the lab, over `Control/SetCapacity`).
    pub fn resize(&self, workers: u32, capacity: Option<u32>) {
        self.lock()
            .rule
            .resize(workers, capacity, |tx| tx.send(()).is_ok());
    }

    /// Requests waiting for a worker now.
    pub fn depth(&self) -> usize {
        self.lock().rule.waiting() as usize
    }

    /// Workers busy now.
    pub fn in_flight(&self) -> u32 {
        self.lock().rule.busy()
    }

    /// The deepest the queue has been since start.
    pub fn max_depth(&self) -> usize {
        self.lock().max_depth
    }

    fn permit(&self) -> Permit {
        Permit {
            admission: Some(self.clone()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain counters behind; keep going.
        self.inner.lock()
    }

    /// A worker was freed: hand it to the next waiter, or mark it idle.
    fn release(&self) {
        hand_on(&mut self.lock());
    }
}

/// Hands a freed worker to the next waiter still waiting (a waiter that
/// left closed its receiver, so the send fails and it is skipped).
fn hand_on(st: &mut State) {
    st.rule.release(|tx| tx.send(()).is_ok());
}

/// A held worker; dropping it frees the worker for the next waiter.
#[derive(Debug)]
#[must_use = "dropping the permit frees the worker at once"]
pub struct Permit {
    admission: Option<Admission>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(a) = self.admission.take() {
            a.release();
        }
    }
}

/// Waiting for a worker. Dropping it before it resolves leaves the queue (the
/// caller went away), and a worker handed to it meanwhile is passed on.
#[derive(Debug)]
pub struct Acquire {
    admission: Admission,
    waiting: Option<oneshot::Receiver<()>>,
    ready: Option<Permit>,
    depth_at_entry: usize,
}

impl Acquire {
    fn ready(permit: Permit) -> Self {
        let admission = permit
            .admission
            .clone()
            .expect("fresh permit holds its pool");
        Self {
            admission,
            waiting: None,
            ready: Some(permit),
            depth_at_entry: 0,
        }
    }

    /// Queue depth just after this request joined it (0: it never waited).
    pub fn depth_at_entry(&self) -> usize {
        self.depth_at_entry
    }
}

impl Future for Acquire {
    type Output = Permit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        if let Some(p) = self.ready.take() {
            return Poll::Ready(p);
        }
        let Some(rx) = self.waiting.as_mut() else {
            panic!("Acquire polled after completion");
        };
        match Pin::new(rx).poll(cx) {
            Poll::Pending => Poll::Pending,
            // Err cannot happen: a waiter's sender is only dropped after a
            // send, or once its receiver is closed (it left); both ways the
            // worker is this request's.
            Poll::Ready(_) => {
                self.waiting = None;
                Poll::Ready(self.admission.permit())
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        let Some(mut rx) = self.waiting.take() else {
            return;
        };
        // Under the lock, so no worker is handed over in between.
        let mut st = self.admission.lock();
        if rx.try_recv().is_ok() {
            // A worker was handed over and will not be used: pass it on.
            hand_on(&mut st);
        } else {
            // Still waiting: leave. Closed, its sender refuses a worker.
            rx.close();
            st.rule.leave(|tx| !tx.is_closed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn pool(workers: u32, queue: Option<u32>, d: Discipline) -> Admission {
        Admission::new(workers, queue, d)
    }

    #[test]
    fn free_worker_is_taken_at_once() {
        let a = pool(2, Some(0), Discipline::Fifo);
        let p1 = a.enter().unwrap().now_or_never().unwrap();
        let _p2 = a.enter().unwrap().now_or_never().unwrap();
        assert_eq!(a.in_flight(), 2);
        assert_eq!(
            a.enter().unwrap_err(),
            QueueFull {
                depth: 0,
                capacity: 0
            }
        );
        drop(p1);
        assert_eq!(a.in_flight(), 1);
    }

    #[test]
    fn rejects_past_capacity_and_queue_never_exceeds_it() {
        let a = pool(1, Some(3), Discipline::Fifo);
        let _held = a.enter().unwrap().now_or_never().unwrap();
        let mut waiting = Vec::new();
        let mut rejected = 0;
        for _ in 0..10 {
            match a.enter() {
                Ok(w) => waiting.push(w),
                Err(e) => {
                    assert_eq!(e.capacity, 3);
                    rejected += 1;
                }
            }
            assert!(a.depth() <= 3);
        }
        assert_eq!(waiting.len(), 3);
        assert_eq!(rejected, 7);
        assert_eq!(a.max_depth(), 3);
    }

    #[test]
    fn reentry_is_never_refused() {
        let a = pool(1, Some(0), Discipline::Fifo);
        let _held = a.enter().unwrap().now_or_never().unwrap();
        let _w = a.reenter();
        assert_eq!(a.depth(), 1);
    }

    /// Which of the waiters got the freed worker.
    fn served_order(d: Discipline) -> Vec<usize> {
        let a = pool(1, None, d);
        let held = a.enter().unwrap().now_or_never().unwrap();
        let mut waiters: Vec<Option<Acquire>> = (0..3).map(|_| Some(a.enter().unwrap())).collect();
        drop(held);
        let mut order = Vec::new();
        while order.len() < 3 {
            let i = (0..3)
                .find(|&i| {
                    waiters[i]
                        .as_mut()
                        .is_some_and(|w| w.now_or_never().is_some())
                })
                .expect("a waiter got the worker");
            // `now_or_never` consumed the permit: the worker is free again.
            waiters[i] = None;
            order.push(i);
        }
        order
    }

    #[test]
    fn fifo_serves_oldest_and_lifo_newest() {
        assert_eq!(served_order(Discipline::Fifo), vec![0, 1, 2]);
        assert_eq!(served_order(Discipline::Lifo), vec![2, 1, 0]);
    }

    #[test]
    fn cancelled_waiter_leaves_the_queue() {
        let a = pool(1, Some(2), Discipline::Fifo);
        let held = a.enter().unwrap().now_or_never().unwrap();
        let w1 = a.enter().unwrap();
        let mut w2 = a.enter().unwrap();
        assert!(a.enter().is_err());
        drop(w1);
        assert_eq!(a.depth(), 1);
        // Room again for one more.
        let _w3 = a.enter().unwrap();
        drop(held);
        assert!((&mut w2).now_or_never().is_some());
    }

    #[test]
    fn worker_handed_to_a_vanished_waiter_is_passed_on() {
        let a = pool(1, None, Discipline::Fifo);
        let held = a.enter().unwrap().now_or_never().unwrap();
        let w1 = a.enter().unwrap();
        let mut w2 = a.enter().unwrap();
        drop(held); // handed to w1, which never polls it
        drop(w1); // so it goes to w2
        assert_eq!(a.in_flight(), 1);
        let p2 = (&mut w2).now_or_never().unwrap();
        drop(p2);
        assert_eq!(a.in_flight(), 0);
        assert_eq!(a.depth(), 0);
    }
}
