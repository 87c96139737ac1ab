//! What one load generator saw: requests sent, how each ended, and the latency
//! of the successful ones, in an HDR histogram. Outcomes are classified the
//! way the contract says: RESOURCE_EXHAUSTED is a rejection, DEADLINE_EXCEEDED
//! a timeout, any other non-OK code an error under its name.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tonic::Code;
use topolab_model::StatusCode;

use super::sample::{Kept, Reservoir};
use super::series::Series;
use super::target::Sent;
use topolab_results::reasons::Reasons;

/// The message of the requests [`Recorder::close`] books as CANCELLED: sent,
/// never ended. Named so that a run that was not interrupted can be checked
/// to have booked none (the counts add up by construction otherwise).
pub const CUT_SHORT: &str =
    "still in flight when the run was cut short (a second Ctrl-C abandons requests in flight)";

/// How one request ended, as the generator saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Rejected,
    Timeout,
    Error(Code),
}

impl Outcome {
    /// Classifies a final gRPC status code.
    pub fn from_code(code: Code) -> Self {
        match code {
            Code::Ok => Outcome::Ok,
            Code::ResourceExhausted => Outcome::Rejected,
            Code::DeadlineExceeded => Outcome::Timeout,
            other => Outcome::Error(other),
        }
    }

    /// The gRPC code name of the outcome (`OK`, `RESOURCE_EXHAUSTED`, ...).
    pub fn code_name(self) -> &'static str {
        match self {
            Outcome::Ok => code_name(Code::Ok),
            Outcome::Rejected => code_name(Code::ResourceExhausted),
            Outcome::Timeout => code_name(Code::DeadlineExceeded),
            Outcome::Error(c) => code_name(c),
        }
    }
}

/// Counters and latency of one generator.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub sent: u64,
    /// Attempts including retries, so retry amplification is visible.
    pub attempts: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: BTreeMap<String, u64>,
    /// Why requests failed: a sample of status messages per code.
    pub reasons: Reasons,
    /// Latency of OK requests in microseconds, from when each was due.
    pub latency_us: Histogram<u64>,
    /// When the first request was due, and when the last one ended.
    pub first_due: Option<Instant>,
    pub last_done: Option<Instant>,
    /// When the generator stopped issuing.
    pub issue_end: Option<Instant>,
    /// How late open-loop requests left against their due time, microseconds.
    pub late_us: Histogram<u64>,
    /// Per-interval figures, when the run asked for them.
    pub series: Option<Series>,
    /// How fresh the clients of a `poll`, `long_poll` or `subscribe`
    /// generator kept their view of the data.
    pub freshness: Option<super::updates::Freshness>,
    /// An evenly drawn sample of finished requests, when the run asked for one.
    pub sample: Option<Reservoir>,
    /// Every request for the lab's page, when a lab runs.
    pub dots: Option<super::dots::Dots>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            sent: 0,
            attempts: 0,
            ok: 0,
            rejected: 0,
            timeouts: 0,
            errors: BTreeMap::new(),
            reasons: Reasons::default(),
            // Cannot fail: 3 significant figures is within hdrhistogram's range.
            latency_us: Histogram::new(3).expect("valid sigfig"),
            first_due: None,
            last_done: None,
            issue_end: None,
            // Cannot fail: as above.
            late_us: Histogram::new(3).expect("valid sigfig"),
            series: None,
            freshness: None,
            sample: None,
            dots: None,
        }
    }
}

impl Recorder {
    /// Counts a request as sent, due at `due`.
    pub fn sent(&mut self, due: Instant) {
        self.sent += 1;
        self.first_due.get_or_insert(due);
        if let Some(s) = &mut self.series {
            s.sent(Instant::now());
        }
        if let Some(d) = &mut self.dots {
            d.sent(due);
        }
    }

    /// Records how a request that was due at `due` ended (its final
    /// status's message is empty for OK).
    pub fn finish(&mut self, due: Instant, sent: &Sent) {
        let (outcome, attempts, message) = (sent.outcome, sent.attempts, sent.message.as_str());
        let now = Instant::now();
        self.attempts += u64::from(attempts);
        self.last_done = Some(self.last_done.map_or(now, |t| t.max(now)));
        let us = now.saturating_duration_since(due).as_micros() as u64;
        if let Some(s) = &mut self.series {
            s.finished(now, outcome, us);
        }
        if let Some(d) = &mut self.dots {
            d.finished(due, us, outcome, sent.trace_id);
        }
        if let Some(s) = &mut self.sample {
            s.offer(Kept {
                due,
                latency_us: us,
                code: outcome.code_name(),
                trace_id: sent.trace_id,
            });
        }
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                record(&mut self.latency_us, us.max(1));
            }
            Outcome::Rejected => {
                self.rejected += 1;
                self.reasons
                    .add(code_name(Code::ResourceExhausted), message);
            }
            Outcome::Timeout => {
                self.timeouts += 1;
                self.reasons.add(code_name(Code::DeadlineExceeded), message);
            }
            Outcome::Error(code) => {
                *self.errors.entry(code_name(code).to_string()).or_default() += 1;
                self.reasons.add(code_name(code), message);
            }
        }
    }

    /// Records how long after its due time a request actually left.
    pub fn left_late(&mut self, late: Duration) {
        record(&mut self.late_us, late.as_micros() as u64);
    }

    /// Requests that ended one way or another.
    pub fn finished(&self) -> u64 {
        self.ok + self.rejected + self.timeouts + self.errors.values().sum::<u64>()
    }

    /// Counts requests that never ended (the run was cut short) as CANCELLED,
    /// so `sent = ok + rejected + timeouts + errors` always holds.
    pub fn close(&mut self) {
        if let Some(s) = &mut self.series {
            s.close(Instant::now());
        }
        let unfinished = self.sent.saturating_sub(self.finished());
        if unfinished > 0 {
            *self.errors.entry("CANCELLED".into()).or_default() += unfinished;
            self.reasons.add_n("CANCELLED", CUT_SHORT, unfinished);
        }
    }

    /// How long the generator was issuing requests.
    pub fn issuing_window(&self) -> Duration {
        match (self.first_due, self.issue_end) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            _ => Duration::ZERO,
        }
    }
}

/// Records into an auto-resizing histogram. (`saturating_record` would clamp
/// to the histogram's *current* range, which starts tiny, not resize it.)
fn record(h: &mut Histogram<u64>, value: u64) {
    // Cannot fail: auto-resize is on and values are far below u64::MAX / 2.
    let _ = h.record(value);
}

/// The gRPC name of a tonic code, e.g. `UNAVAILABLE`.
pub fn code_name(code: Code) -> &'static str {
    StatusCode(code as i32).name()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(outcome: Outcome, attempts: u32) -> Sent {
        Sent {
            outcome,
            attempts,
            message: String::new(),
            trace_id: None,
            version: 0,
        }
    }

    #[test]
    fn counts_add_up_even_when_cut_short() {
        let mut r = Recorder::default();
        let t = Instant::now();
        for _ in 0..5 {
            r.sent(t);
        }
        r.finish(t, &sent(Outcome::Ok, 1));
        r.finish(t, &sent(Outcome::from_code(Code::ResourceExhausted), 1));
        r.finish(t, &sent(Outcome::from_code(Code::DeadlineExceeded), 2));
        r.finish(t, &sent(Outcome::from_code(Code::Unavailable), 1));
        r.close();
        assert_eq!((r.ok, r.rejected, r.timeouts), (1, 1, 1));
        assert_eq!(r.errors["UNAVAILABLE"], 1);
        assert_eq!(r.errors["CANCELLED"], 1);
        assert_eq!(r.finished(), r.sent);
        assert_eq!(r.attempts, 5);
    }

    #[test]
    fn latency_histogram_grows_to_fit_long_requests() {
        let mut r = Recorder::default();
        let due = Instant::now() - Duration::from_millis(450);
        r.sent(due);
        r.finish(due, &sent(Outcome::Ok, 1));
        let p50 = r.latency_us.value_at_quantile(0.5);
        assert!((450_000..460_000).contains(&p50), "{p50}");
    }
}
