//! The fault this replica suffers right now, as the launcher sets it over
//! `Control/SetFault` while the faults timeline runs: `slow` stretches every
//! `work` step, `errors` fails a share of requests. Both start cleared.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tonic::Code;
use topolab_proto::v1::SetFaultRequest;

/// The current fault, read on every request.
#[derive(Debug)]
pub struct FaultState {
    /// `f64` bits of the slow-down factor (1.0: none).
    slow: AtomicU64,
    errors: Mutex<Option<(f64, Code)>>,
}

impl Default for FaultState {
    fn default() -> Self {
        FaultState {
            slow: AtomicU64::new(1f64.to_bits()),
            errors: Mutex::new(None),
        }
    }
}

impl FaultState {
    /// Replaces the fault; a request of defaults clears it.
    pub fn set(&self, req: &SetFaultRequest) {
        let slow = if req.slow > 0.0 { req.slow } else { 1.0 };
        self.slow.store(slow.to_bits(), Ordering::Relaxed);
        let errors =
            (req.error_rate > 0.0).then(|| (req.error_rate, Code::from_i32(req.error_code)));
        *self.errors.lock() = errors;
    }

    /// How many times longer `work` steps take now.
    pub fn slow(&self) -> f64 {
        f64::from_bits(self.slow.load(Ordering::Relaxed))
    }

    /// The injected failure rate and status, if any.
    pub fn errors(&self) -> Option<(f64, Code)> {
        *self.errors.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_clear() {
        let f = FaultState::default();
        assert_eq!((f.slow(), f.errors()), (1.0, None));
        f.set(&SetFaultRequest {
            slow: 10.0,
            error_rate: 0.5,
            error_code: Code::Unavailable as i32,
        });
        assert_eq!(
            (f.slow(), f.errors()),
            (10.0, Some((0.5, Code::Unavailable)))
        );
        f.set(&SetFaultRequest::default());
        assert_eq!((f.slow(), f.errors()), (1.0, None));
    }
}
