//! Tracing when calls fail: failures and timeouts carry their status down
//! the tree, a call that may or may not have been served does not count its
//! child, and a retried call's every attempt is a child of its caller.

mod common;

use common::Sandbox;
use common::trees::{assert_children_counted, children, served};
use topolab_proto::span_keys::CHILDREN;
use topolab_results::trace;

#[test]
fn failures_and_timeouts_carry_their_status() {
    let sb = Sandbox::new();
    let yaml = "name: failing
services:
  front:
    endpoints:
      Go:
        steps:
          - call: slow/Work
            timeout: 5ms
            on_error: continue
          - call: broken/Fail
  slow:
    endpoints:
      Work:
        steps:
          - work: 30ms
  broken:
    endpoints:
      Fail:
        errors: 100% UNAVAILABLE
load:
  g:
    target: front/Go
    rate: 20/s
    duration: 1s
    timeout: 1s
";
    sb.run_yaml(yaml, &["-q"]);
    let traces = trace::load(&sb.out()).unwrap();
    assert!(!traces.is_empty());
    for tr in &traces {
        let front = served(tr, tr.root().unwrap());
        assert_eq!(front.code_name(), "UNAVAILABLE");
        assert_eq!(tr.root().unwrap().code_name(), "UNAVAILABLE");
        let calls = children(tr, front);
        let to_slow = calls
            .iter()
            .find(|c| c.callee.as_deref() == Some("slow/Work"))
            .unwrap();
        assert_eq!(to_slow.code_name(), "DEADLINE_EXCEEDED");
        // Timed out here, maybe served there: its children are not known.
        assert_eq!(to_slow.attributes.get(CHILDREN), None);
        assert_children_counted(tr);
        let to_broken = calls
            .iter()
            .find(|c| c.callee.as_deref() == Some("broken/Fail"))
            .unwrap();
        assert_eq!(to_broken.code_name(), "UNAVAILABLE");
        assert_eq!(served(tr, to_broken).code_name(), "UNAVAILABLE");
    }
    let listed = sb
        .command(&["trace", sb.out().to_str().unwrap(), "--errors"])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains(&format!(
            "{} of {} traces failed",
            traces.len(),
            traces.len()
        )),
        "{text}"
    );
}

#[test]
fn retried_calls_are_counted_as_children() {
    let sb = Sandbox::new();
    let yaml = "name: retrying
services:
  front:
    endpoints:
      Go:
        steps:
          - call: flaky/Try
            retries: 3
            retry_budget: none
            on_error: continue
  flaky:
    endpoints:
      Try:
        errors: 50% UNAVAILABLE
load:
  g:
    target: front/Go
    rate: 40/s
    duration: 1s
";
    sb.run_yaml(yaml, &["-q"]);
    let traces = trace::load(&sb.out()).unwrap();
    assert!(!traces.is_empty());
    let mut retried = 0;
    for tr in &traces {
        assert_children_counted(tr);
        // Every attempt is a CLIENT span of the front's SERVER span, and
        // the SERVER span counts them all, failed ones too.
        let front = served(tr, tr.root().unwrap());
        let attempts = children(tr, front).len();
        assert_eq!(
            front.attributes.get(CHILDREN),
            Some(&attempts.to_string()),
            "{}",
            tr.id
        );
        retried += usize::from(attempts > 1);
    }
    assert!(retried > 0, "no call was retried");
}
