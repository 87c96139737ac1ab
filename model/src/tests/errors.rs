//! Each kind of error (and the warning) through `load_str`: its message and
//! its `file:line:col`, and that all of a file's errors are reported.

use crate::*;

/// Every error as (message line, location), e.g. ("error: ...", "t.yaml:5:5").
fn errors(text: &str) -> Vec<(String, String)> {
    let report = load_str("t.yaml", text, &[]).expect_err("the topology should be refused");
    report.errors.iter().map(|e| headline(e)).collect()
}

fn headline(e: &str) -> (String, String) {
    let mut lines = e.lines();
    let message = lines.next().unwrap_or_default().to_string();
    let at = lines
        .next()
        .unwrap_or_default()
        .trim()
        .trim_start_matches("--> ")
        .to_string();
    (message, at)
}

/// The one error of `text`, fully rendered.
fn only_error(text: &str) -> String {
    let report = load_str("t.yaml", text, &[]).expect_err("the topology should be refused");
    assert_eq!(report.errors.len(), 1, "{report}");
    report.errors[0].clone()
}

fn e(message: &str, at: &str) -> (String, String) {
    (format!("error: {message}"), format!("t.yaml:{at}"))
}

const HEAD: &str = "name: t\nservices:\n";

#[test]
fn unknown_key_with_a_suggestion() {
    let text = format!("{HEAD}  kitchen:\n    wrokers: 1\n    endpoints: {{ Cook: {{}} }}\n");
    let want = "\
error: unknown key `wrokers` in service `kitchen`
  --> t.yaml:4:5
   |
 4 |     wrokers: 1
   |     ^^^^^^^
   = help: did you mean `workers`?";
    assert_eq!(only_error(&text), want);
}

#[test]
fn bad_unit() {
    let text = format!(
        "{HEAD}  a:\n    endpoints:\n      X:\n        steps:\n          - work: exp(2h)\n"
    );
    let err = only_error(&text);
    assert_eq!(
        headline(&err),
        e("invalid `work`: unknown unit `h` in `2h`", "7:19")
    );
    assert!(
        err.contains("= help: expected a duration like `2ms`"),
        "{err}"
    );
}

#[test]
fn unknown_service_and_endpoint_with_suggestions() {
    let text = format!(
        "{HEAD}  auth:\n    endpoints:\n      Verify:\n        steps:\n          - call: auht/Verify\n          - call: auth/Verfy\n"
    );
    let report = load_str("t.yaml", &text, &[]).unwrap_err();
    let got: Vec<_> = report.errors.iter().map(|e| headline(e)).collect();
    assert_eq!(
        got,
        [
            e("unknown service `auht` in `auht/Verify`", "7:19"),
            e("unknown endpoint `Verfy` of service `auth`", "8:19"),
        ]
    );
    assert!(report.errors[0].contains("= help: did you mean `auth`?"));
    assert!(report.errors[1].contains("= help: did you mean `Verify`?"));
}

#[test]
fn a_load_target_is_resolved_too() {
    let text = format!(
        "{HEAD}  a: {{ endpoints: {{ X: }} }}\nload:\n  g:\n    target: a/Y\n    rate: 1/s\n    duration: 1s\n"
    );
    assert_eq!(
        errors(&text),
        [e("unknown endpoint `Y` of service `a`", "6:13")]
    );
}

#[test]
fn endpoint_cycle_shows_its_path() {
    let text = format!(
        "{HEAD}  a:\n    endpoints:\n      X:\n        steps: [ {{call: b/Y}} ]\n      Z: {{}}\n  b:\n    endpoints:\n      Y:\n        steps:\n          - call: a/Z\n          - parallel:\n              - call: a/X\n"
    );
    let err = only_error(&text);
    assert_eq!(headline(&err), e("call cycle: a/X → b/Y → a/X", "14:23"));
    assert!(err.contains("would call `a/X` again"), "{err}");
}

#[test]
fn service_level_loop_in_the_blocking_model_is_a_warning() {
    let text = format!(
        "{HEAD}  a:\n    endpoints:\n      X:\n        steps: [ {{call: b/Y}} ]\n      Z: {{}}\n  b:\n    endpoints:\n      Y:\n        steps: [ {{call: a/Z}} ]\n"
    );
    let loaded = load_str("t.yaml", &text, &[]).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    let (message, at) = headline(&loaded.warnings[0]);
    assert_eq!(
        message,
        "warning: service-level loop a → b → a can deadlock"
    );
    assert_eq!(at, "t.yaml:11:25");
    let asynchronous = text
        .replace("  a:\n", "  a:\n    model: async\n")
        .replace("  b:\n", "  b:\n    model: async\n");
    assert!(
        load_str("t.yaml", &asynchronous, &[])
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn zero_where_positive_is_needed() {
    let text = format!(
        "{HEAD}  a:\n    workers: 0\n    replicas: 0\n    queue: 0\n    endpoints:\n      X:\n        steps: [ {{call: a/Y, times: 0, timeout: 0ms}} ]\n      Y:\nload:\n  g:\n    target: a/X\n    rate: 0/s\n    duration: 0s\n"
    );
    assert_eq!(
        errors(&text),
        [
            e("`workers` must be at least 1, found `0`", "4:14"),
            e("`replicas` must be at least 1, found `0`", "5:15"),
            e("`times` must be at least 1, found `0`", "9:37"),
            e("`timeout` must be longer than zero", "9:49"),
            e("`rate` must be above zero", "14:11"),
            e("`duration` must be longer than zero", "15:15"),
        ]
    );
}

#[test]
fn queue_zero_and_unbounded_are_allowed() {
    for q in ["0", "unbounded"] {
        let text = format!("{HEAD}  a:\n    queue: {q}\n    endpoints: {{ X: }}\n");
        let t = load_str("t.yaml", &text, &[]).unwrap().topology;
        assert_eq!(t.services[0].queue, if q == "0" { Some(0) } else { None });
    }
}

#[test]
fn too_many_processes_names_the_limit() {
    let text = format!(
        "{HEAD}  a:\n    replicas: 200\n    endpoints: {{ X: }}\n  b:\n    replicas: 100\n    endpoints: {{ X: }}\n"
    );
    let limits = Limits::machine(256, "memory sets it: lower `replicas`".into());
    let report = load_str_with("t.yaml", &text, &[], limits).expect_err("over the limit");
    let err = report.errors.join("\n");
    assert_eq!(
        headline(&err),
        e(
            "this topology starts 300 processes, more than the limit of 256",
            "4:15"
        )
    );
    assert!(err.contains("memory sets it"), "{err}");
    assert!(
        load_str("t.yaml", &text, &[]).is_ok(),
        "a file that starts nothing here is not held to a machine's limit"
    );
}

#[test]
fn kill_and_pause_are_refused_where_nothing_can_signal_a_replica() {
    let text = format!(
        "{HEAD}  a: {{ endpoints: {{ X: }} }}\nload:\n  g: {{ target: a/X, rate: 1/s, duration: 5s }}\nfaults:\n  - {{ at: 1s, target: a, slow: 2x }}\n  - {{ at: 2s, target: a, pause: true, for: 1s }}\n  - {{ at: 3s, target: a#0, kill: true }}\n"
    );
    let why = "no engine to signal them";
    let limits = Limits::FORMAT.without_signals(why);
    let report = load_str_with("t.yaml", &text, &[], limits).expect_err("refused");
    let got: Vec<_> = report.errors.iter().map(|e| headline(e)).collect();
    assert_eq!(
        got,
        [
            e(
                &format!("a `pause` fault cannot be carried out here: {why}"),
                "8:26"
            ),
            e(
                &format!("a `kill` fault cannot be carried out here: {why}"),
                "9:28"
            ),
        ]
    );
    assert!(report.errors[0].contains("run --on swarm"), "{report}");
    assert!(
        load_str("t.yaml", &text, &[]).is_ok(),
        "where replicas can be signalled, the same file is valid"
    );
}

#[test]
fn too_much_rate_names_the_limit() {
    let text = format!(
        "{HEAD}  a: {{ endpoints: {{ X: }} }}\nload:\n  g:\n    target: a/X\n    rate: 3000000/m\n    duration: 1s\n  h:\n    target: a/X\n    rate: 1/s\n    duration: 1s\n"
    );
    assert_eq!(
        errors(&text),
        [e(
            "the open-loop generators ask for 50001/s in all, more than the limit of 50000/s",
            "7:11"
        )]
    );
}

#[test]
fn generator_needs_rate_or_clients_and_duration() {
    let gen_ = |body: &str| {
        format!("{HEAD}  a: {{ endpoints: {{ X: }} }}\nload:\n  g:\n    target: a/X\n{body}")
    };
    assert_eq!(
        errors(&gen_("    think: 1s\n")),
        [
            e(
                "generator `g` needs `rate` (open loop) or `clients` (closed loop)",
                "5:3"
            ),
            e("generator `g` needs `duration`", "5:3"),
        ]
    );
    assert_eq!(
        errors(&gen_("    rate: 1/s\n    clients: 2\n    duration: 1s\n")),
        [e("generator `g` has both `rate` and `clients`", "8:5")]
    );
    assert_eq!(
        errors(&gen_("    rate: 1/s\n    think: 1s\n    duration: 1s\n")),
        [e(
            "`think` applies only with `clients` (a closed loop)",
            "8:5"
        )]
    );
    assert_eq!(
        errors(&gen_(
            "    clients: 2\n    arrivals: constant\n    duration: 1s\n"
        )),
        [e(
            "`arrivals` applies only with `rate` (an open loop)",
            "8:5"
        )]
    );
}

#[test]
fn required_top_level_keys() {
    assert_eq!(
        errors("description: nothing\n"),
        [
            e("the topology needs `name`", "1:1"),
            e("the topology needs `services`", "1:1")
        ]
    );
    assert_eq!(
        errors("- a\n"),
        [e(
            "a topology is a map with `name` and `services`, found a list",
            "1:1"
        )]
    );
}

#[test]
fn a_service_needs_an_endpoint() {
    assert_eq!(
        errors(&format!("{HEAD}  a:\n    workers: 2\n")),
        [e("service `a` needs `endpoints`", "3:3")]
    );
    assert_eq!(
        errors(&format!("{HEAD}  a:\n    endpoints: {{}}\n")),
        [e("service `a` has no endpoints", "4:5")]
    );
}

#[test]
fn percentages_over_a_hundred_and_bad_statuses() {
    let text = format!(
        "{HEAD}  a:\n    endpoints:\n      X:\n        errors: 150% UNAVAILABLE\n      Y:\n        errors: 1% Unavailable\n"
    );
    let report = load_str("t.yaml", &text, &[]).unwrap_err();
    let got: Vec<_> = report.errors.iter().map(|e| headline(e)).collect();
    assert_eq!(
        got,
        [
            e("invalid `errors`: `150%` is over 100%", "6:17"),
            e(
                "invalid `errors`: unknown status `Unavailable` (did you mean `UNAVAILABLE`?)",
                "8:17"
            ),
        ]
    );
}

#[test]
fn names_must_match_the_spec() {
    let text = format!("{HEAD}  Auth_DB:\n    endpoints:\n      get-user:\n");
    assert_eq!(
        errors(&text),
        [
            e("invalid service name `Auth_DB`", "3:3"),
            e("invalid endpoint name `get-user`", "5:7")
        ]
    );
}

#[test]
fn warmup_is_a_duration() {
    let text = format!("{HEAD}  a:\n    endpoints: {{ X: }}\nsettings:\n  warmup: soon\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].1, "t.yaml:6:11", "{errs:?}");
    assert!(errs[0].0.contains("warmup"), "{errs:?}");
}

#[test]
fn yaml_syntax_error_has_a_location() {
    let err = only_error("name: t\nservices:\n  a: [1, 2\n");
    let (message, at) = headline(&err);
    assert!(message.starts_with("error: invalid YAML: "), "{err}");
    assert!(at.starts_with("t.yaml:3:"), "{err}");
}

#[test]
fn duplicate_keys_are_errors() {
    let text = format!("{HEAD}  a:\n    workers: 1\n    workers: 2\n    endpoints: {{ X: }}\n");
    let err = only_error(&text);
    assert_eq!(
        headline(&err),
        e("duplicate key `workers` in service `a`", "5:5")
    );
    assert!(err.contains("first written at line 4"), "{err}");
}

#[test]
fn steps_do_one_thing() {
    let text = format!(
        "{HEAD}  a:\n    endpoints:\n      X:\n        steps:\n          - wrok: 1ms\n          - work: 1ms\n            call: a/Y\n          - work: 1ms\n            timeout: 1s\n      Y:\n"
    );
    assert_eq!(
        errors(&text),
        [
            e("a step needs one of `work`, `call` or `parallel`", "7:13"),
            e(
                "a step does one thing, but this one has `work` and `call`",
                "9:13"
            ),
            e("`timeout` applies only to `call` steps", "11:13"),
        ]
    );
}

#[test]
fn several_errors_in_one_file_are_all_reported() {
    let text = "\
name: many
services:
  kitchen:
    wrokers: 1
    queue: lots
    endpoints:
      Cook:
        steps:
          - work: 200
          - call: pantry/Get
load:
  customers:
    target: kitchen/Cok
    rate: 4
    duration: 30s
";
    assert_eq!(
        errors(text),
        [
            e("unknown key `wrokers` in service `kitchen`", "4:5"),
            e("invalid `queue`: `lots` is not a whole number", "5:12"),
            e("invalid `work`: `200` has no unit", "9:19"),
            e("unknown service `pantry` in `pantry/Get`", "10:19"),
            e("unknown endpoint `Cok` of service `kitchen`", "13:13"),
            e("invalid `rate`: `4` has no `/s` or `/m`", "14:11"),
        ]
    );
}
