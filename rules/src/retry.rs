//! Which failed attempts are tried again: those whose code says the callee
//! may do better next time (UNAVAILABLE, DEADLINE_EXCEEDED,
//! RESOURCE_EXHAUSTED), while the step's `retries` last; the retry budget
//! ([`crate::budget`]) has the last word. Shared so that a simulated call
//! retries exactly the failures a replica's does.

use topolab_model::StatusCode;

/// The codes worth another attempt.
#[inline]
pub fn retryable(code: StatusCode) -> bool {
    // DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE.
    matches!(code.0, 4 | 8 | 14)
}

/// Whether an attempt that failed with `code`, after `done` retries of the
/// `allowed`, may be retried (if the budget agrees).
#[inline]
pub fn another(code: StatusCode, done: u32, allowed: u32) -> bool {
    done < allowed && retryable(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_transient_codes_are_retried() {
        let retried: Vec<&str> = (0..17)
            .map(StatusCode)
            .filter(|&c| retryable(c))
            .map(StatusCode::name)
            .collect();
        assert_eq!(
            retried,
            ["DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "UNAVAILABLE"]
        );
    }

    #[test]
    fn retries_stop_when_the_steps_retries_are_spent() {
        let unavailable = StatusCode(14);
        assert!(another(unavailable, 0, 2));
        assert!(another(unavailable, 1, 2));
        assert!(!another(unavailable, 2, 2));
        assert!(!another(StatusCode(13), 0, 2), "INTERNAL is not retried");
    }
}
