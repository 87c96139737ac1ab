//! What every run's load figures must show: each generator's counts add up
//! (`sent = ok + rejected + timeouts + errors`), and, since the recorder
//! makes them add up by booking the requests that never ended as CANCELLED,
//! a run that was not interrupted booked none that way.

use serde_json::Value;
use topolab_load::recorder::CUT_SHORT;
use topolab_results::reasons::OTHER;

/// `sent = ok + rejected + timeouts + sum(errors)` for one generator.
pub fn assert_counts_add_up(load: &Value) {
    let n = |k: &str| load[k].as_u64().unwrap_or_else(|| panic!("{k} in {load}"));
    let errors: u64 = load["errors"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        n("sent"),
        n("ok") + n("rejected") + n("timeouts") + errors,
        "counts do not add up: {load}"
    );
}

/// For a summary whose run was not interrupted: no generator booked a
/// request as CANCELLED for being still in flight at the end, which would
/// make [`assert_counts_add_up`] hold without every request having ended.
/// Interrupted runs (Ctrl-C, `interrupted: true`) may; predictions have no
/// such requests. A CANCELLED count whose messages were pooled under
/// "(other messages)" cannot be told apart, and fails too.
pub fn assert_nothing_cut_short(summary: &Value) {
    if summary["interrupted"].as_bool() == Some(true) {
        return;
    }
    let Some(load) = summary["load"].as_object() else {
        return;
    };
    for (name, g) in load {
        let Some(cancelled) = g["messages"]["CANCELLED"].as_array() else {
            continue;
        };
        for m in cancelled {
            let message = m["message"].as_str().unwrap_or_default();
            assert!(
                message != CUT_SHORT && message != OTHER,
                "{name}: a run that was not interrupted booked {} request(s) as CANCELLED ({message}): they never ended\n{g}",
                m["count"]
            );
        }
    }
}
