//! Every request of a generator as the lab draws it: those in flight (by
//! due time) and those finished since the lab last looked, with how long
//! each took and how it ended. Both are bounded; what does not fit is
//! counted in [`Dots::dropped`], never silently lost.

use std::collections::BTreeSet;
use std::time::Instant;

use super::recorder::Outcome;

/// Requests in flight tracked at most; more are counted as dropped.
const MAX_IN_FLIGHT: usize = 10_000;
/// Finished requests held between two looks; more are counted as dropped.
const MAX_DONE: usize = 20_000;

/// One finished request.
#[derive(Debug, Clone, Copy)]
pub struct Dot {
    /// When it was due (sent, for a closed loop).
    pub due: Instant,
    /// From due to its answer.
    pub latency_us: u64,
    pub outcome: Outcome,
    /// Its trace, when it was traced: the page opens its chain by it.
    pub trace_id: Option<[u8; 16]>,
}

/// A generator's requests for the lab's page, when the run asked for them.
#[derive(Debug, Clone, Default)]
pub struct Dots {
    in_flight: BTreeSet<Instant>,
    done: Vec<Dot>,
    /// Requests that did not fit (in flight or finished): the page says so.
    pub dropped: u64,
}

impl Dots {
    /// A request due at `due` was sent.
    pub fn sent(&mut self, due: Instant) {
        if self.in_flight.len() < MAX_IN_FLIGHT {
            self.in_flight.insert(due);
        } else {
            self.dropped += 1;
        }
    }

    /// The request due at `due` ended now.
    pub fn finished(
        &mut self,
        due: Instant,
        latency_us: u64,
        outcome: Outcome,
        trace_id: Option<[u8; 16]>,
    ) {
        self.in_flight.remove(&due);
        if self.done.len() < MAX_DONE {
            self.done.push(Dot {
                due,
                latency_us,
                outcome,
                trace_id,
            });
        } else {
            self.dropped += 1;
        }
    }

    /// The requests finished since the last call, oldest answer first.
    pub fn take(&mut self) -> Vec<Dot> {
        std::mem::take(&mut self.done)
    }

    /// Due times of the requests in flight, oldest first.
    pub fn in_flight(&self) -> impl Iterator<Item = Instant> + '_ {
        self.in_flight.iter().copied()
    }

    /// How many requests are in flight (tracked).
    pub fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_request_moves_from_in_flight_to_done() {
        let mut d = Dots::default();
        let t = Instant::now();
        d.sent(t);
        d.sent(t + Duration::from_millis(1));
        assert_eq!(d.in_flight_len(), 2);
        d.finished(t, 500, Outcome::Rejected, Some([7; 16]));
        assert_eq!(
            d.in_flight().collect::<Vec<_>>(),
            [t + Duration::from_millis(1)]
        );
        let done = d.take();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].outcome, Outcome::Rejected);
        assert_eq!(done[0].trace_id, Some([7; 16]));
        assert!(d.take().is_empty(), "taken once");
    }

    #[test]
    fn what_does_not_fit_is_counted() {
        let mut d = Dots::default();
        let t = Instant::now();
        for i in 0..(MAX_DONE as u64 + 3) {
            d.finished(t + Duration::from_nanos(i), 1, Outcome::Ok, None);
        }
        assert_eq!(d.dropped, 3);
        assert_eq!(d.take().len(), MAX_DONE);
    }
}
