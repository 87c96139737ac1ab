//! The resilience keys of a `call` step beyond the spec's `timeout`,
//! `retries` and `backoff`: `retry_budget`, `backoff_multiplier`, `jitter`
//! and `breaker`, each with a safe default.

use super::{Checker, error_at};
use crate::defaults;
use crate::model::Call;
use crate::policy::{Breaker, RetryBudget};
use crate::tree::Node;
use crate::values;

pub(crate) const BREAKER_KEYS: &[&str] = &["failures", "window", "min_calls", "open_for", "probes"];

/// Reads the policy keys of one call step into `c`.
pub(super) fn call_policies(ck: &mut Checker, f: &super::Fields, c: &mut Call) {
    if let Some(v) = f.get("retry_budget") {
        c.retry_budget = match &v.value {
            Node::Scalar(s) if s == "none" => None,
            _ => ck
                .parse(
                    "retry_budget",
                    v,
                    "a percentage like `20%`, or `none` (unlimited)",
                    values::percent,
                )
                .map(|ratio| RetryBudget { ratio })
                .or(c.retry_budget),
        };
    }
    if let Some(v) = f.get("backoff_multiplier")
        && let Some(m) = ck.parse("backoff_multiplier", v, values::FACTOR, values::factor)
    {
        if m < 1.0 {
            ck.push(
                error_at(
                    format!("`backoff_multiplier` must be at least 1x, found `{m}x`"),
                    v,
                )
                .help("use `1x` for equal waits, `2x` to double each wait"),
            );
        } else {
            c.backoff_shape.multiplier = m;
        }
    }
    if let Some(v) = f.get("jitter") {
        c.backoff_shape.jitter = ck
            .parse("jitter", v, values::PERCENT, values::percent)
            .unwrap_or(0.0);
    }
    if let Some(v) = f.get("breaker") {
        c.breaker = breaker(ck, v);
    }
}

/// `breaker: { failures: 50%, window: 10s, min_calls: 10, open_for: 5s, probes: 3 }`;
/// every key optional, `breaker: {}` is the defaults.
fn breaker(ck: &mut Checker, node: &crate::tree::Located<Node>) -> Option<Breaker> {
    let f = ck.fields(node, "`breaker`", BREAKER_KEYS, &[])?;
    let mut b = defaults::DEFAULT_BREAKER;
    if let Some(v) = f.get("failures") {
        b.failures = ck
            .parse("failures", v, values::PERCENT, values::percent)
            .unwrap_or(b.failures);
        if b.failures == 0.0 {
            ck.push(
                error_at("`failures` must be above 0%", v)
                    .help("at 0% the breaker would open on the first call"),
            );
        }
    }
    if let Some(v) = f.get("window") {
        b.window = ck.positive_duration("window", v).unwrap_or(b.window);
    }
    if let Some(v) = f.get("min_calls") {
        b.min_calls = ck.positive_count("min_calls", v).unwrap_or(b.min_calls);
    }
    if let Some(v) = f.get("open_for") {
        b.open_for = ck.positive_duration("open_for", v).unwrap_or(b.open_for);
    }
    if let Some(v) = f.get("probes") {
        b.probes = ck.positive_count("probes", v).unwrap_or(b.probes);
    }
    Some(b)
}
