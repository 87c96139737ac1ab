//! A request larger than a replica decodes (gRPC's 4 MiB,
//! `topolab_rules::message`) is refused `OUT_OF_RANGE` as it arrives, as a
//! replica's decoder refuses it: the endpoint never counts it, the caller
//! does; one byte under the limit is served.

use topolab_model::{Limits, load_str_with};
use topolab_sim::{Figures, Options, simulate};

fn sim(request: &str, call: &str) -> Figures {
    let yaml = format!(
        "name: t\nservices:\n  api:\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n            request: {call}\n  db:\n    endpoints: {{ Q: {{}} }}\nload:\n  l: {{ target: api/Get, rate: 10/s, duration: 5s, request: {request} }}\n"
    );
    let loaded =
        load_str_with("t.yaml", &yaml, &[], Limits::SIMULATION).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        seed: 7,
        hop_cost: 100_000,
        telemetry: false,
        ..Options::default()
    };
    simulate(&loaded.topology, &opts).expect("simulates")
}

#[test]
fn a_request_past_four_mebibytes_is_refused_out_of_range_uncounted() {
    let f = sim("8MiB", "1KiB");
    let l = &f.load[0];
    assert!(l.sent > 20, "{}", l.sent);
    assert_eq!(
        l.errors.get("OUT_OF_RANGE"),
        Some(&l.sent),
        "{:?}",
        l.errors
    );
    assert_eq!(
        f.endpoints[0][0].requests, 0,
        "api counted a refused request"
    );
}

#[test]
fn a_call_past_four_mebibytes_fails_at_its_caller_and_db_counts_none() {
    let f = sim("4MiB", "5MiB");
    let l = &f.load[0];
    assert_eq!(
        f.endpoints[0][0].requests, l.sent,
        "api serves every request"
    );
    assert_eq!(f.endpoints[1][0].requests, 0, "db counted a refused call");
    let to_db = &f.calls[0]["db/Q"];
    assert_eq!(
        to_db.outcomes.get("OUT_OF_RANGE"),
        Some(&l.sent),
        "{to_db:?}"
    );
}
