//! Why a generator's requests failed, as `summary.json` holds it: per gRPC
//! code, the status messages seen, with counts. Bounded: a few distinct messages per code are kept
//! ([`PER_CODE`]); any other message counts under [`OTHER`], so a message
//! that varies per request (a deadline's figures) cannot grow memory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Distinct messages kept per code.
pub const PER_CODE: usize = 4;

/// Where messages beyond [`PER_CODE`] are counted.
pub const OTHER: &str = "(other messages)";

/// One message and how many requests ended with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCount {
    pub message: String,
    pub count: u64,
}

/// Messages by code name (`UNAVAILABLE`), most frequent first once sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reasons(pub BTreeMap<String, Vec<MessageCount>>);

impl Reasons {
    /// Counts one failure of `code` with `message`.
    pub fn add(&mut self, code: &str, message: &str) {
        self.add_n(code, message, 1);
    }

    /// Counts `n` failures of `code` with `message`.
    pub fn add_n(&mut self, code: &str, message: &str, n: u64) {
        let seen = self.0.entry(code.to_string()).or_default();
        let message = if message.is_empty() {
            "(no message)"
        } else {
            message
        };
        if let Some(m) = seen.iter_mut().find(|m| m.message == message) {
            m.count += n;
            return;
        }
        let distinct = seen.iter().filter(|m| m.message != OTHER).count();
        let message = if distinct < PER_CODE { message } else { OTHER };
        match seen.iter_mut().find(|m| m.message == message) {
            Some(m) => m.count += n,
            None => seen.push(MessageCount {
                message: message.to_string(),
                count: n,
            }),
        }
    }

    /// The same, each code's messages most frequent first ([`OTHER`] last).
    pub fn sorted(&self) -> Reasons {
        let mut out = self.clone();
        for v in out.0.values_mut() {
            v.sort_by_key(|m| (m.message == OTHER, std::cmp::Reverse(m.count)));
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_messages_per_code_are_kept_and_the_rest_counted() {
        let mut r = Reasons::default();
        for i in 0..10 {
            r.add("DEADLINE_EXCEEDED", &format!("late by {i} ms"));
        }
        r.add(
            "UNAVAILABLE",
            "db#0/Q: connection lost (connection refused)",
        );
        r.add(
            "UNAVAILABLE",
            "db#0/Q: connection lost (connection refused)",
        );
        r.add("UNAVAILABLE", "");
        let s = r.sorted();
        let d = &s.0["DEADLINE_EXCEEDED"];
        assert_eq!(d.len(), PER_CODE + 1);
        assert_eq!(d.last().unwrap().message, OTHER);
        assert_eq!(d.iter().map(|m| m.count).sum::<u64>(), 10);
        let u = &s.0["UNAVAILABLE"];
        assert_eq!(u[0].count, 2);
        assert_eq!(u[1].message, "(no message)");
    }
}
