//! The simulator on a modelled network: a link's delay lengthens the calls
//! that cross it and no others; a partition fails them by their timeout;
//! without a network nothing changes.

use topolab_model::{Limits, load_str_with};
use topolab_sim::{Figures, Options, simulate};

const BASE: &str = "name: t\nservices:\n  api:\n    workers: 64\n    model: async\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n            timeout: 1s\n  db:\n    workers: 64\n    model: async\n    endpoints: { Q: {} }\nload:\n  l: { target: api/Get, rate: 50/s, duration: 20s }\n";

fn sim(extra: &str) -> Figures {
    let yaml = format!("{BASE}{extra}");
    let loaded =
        load_str_with("t.yaml", &yaml, &[], Limits::SIMULATION).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        seed: 7,
        hop_cost: 0,
        telemetry: false,
        ..Options::default()
    };
    simulate(&loaded.topology, &opts).expect("simulates")
}

fn mean_ms(f: &Figures) -> f64 {
    f.load[0].latency_us.mean() / 1e3
}

#[test]
fn a_standing_delay_lengthens_every_call_by_itself() {
    let plain = sim("");
    let slow = sim("network:\n  links:\n    api -> db: { delay: 30ms, jitter: 5ms }\n");
    let added = mean_ms(&slow) - mean_ms(&plain);
    assert!((29.0..31.0).contains(&added), "added {added:.2} ms, not 30");
    // Both ways: the way back is added too.
    let both = sim("network:\n  links:\n    api <-> db: { delay: 30ms }\n");
    let added = mean_ms(&both) - mean_ms(&plain);
    assert!((59.0..61.0).contains(&added), "added {added:.2} ms, not 60");
}

#[test]
fn a_partition_fails_the_calls_in_its_window_by_their_timeout() {
    let f = sim("faults:\n  - { at: 5s, for: 5s, link: api <-> db, partition: true }\n");
    let db = &f.calls[0]["db/Q"];
    let cut = db.outcomes.get("DEADLINE_EXCEEDED").copied().unwrap_or(0);
    // A quarter of 20 s: ~250 of ~1000 attempts.
    assert!(
        (200..300).contains(&cut),
        "{cut} cut of {}: {db:?}",
        db.attempts
    );
    assert_eq!(f.load[0].ok + cut, f.load[0].sent, "{:?}", f.load[0].errors);
}

#[test]
fn loss_costs_a_retransmission_timeout_to_the_calls_it_hits() {
    let plain = sim("");
    let lossy = sim("network:\n  links:\n    api -> db: { loss: 10% }\n");
    // Two packets a call: 19% of calls wait 200 ms more, ~38 ms on average.
    let added = mean_ms(&lossy) - mean_ms(&plain);
    assert!(
        (30.0..46.0).contains(&added),
        "added {added:.2} ms, not ~38"
    );
}

#[test]
fn a_response_takes_its_time_on_the_way_backs_bandwidth() {
    let sized = BASE.replace(
        "endpoints: { Q: {} }",
        "endpoints: { Q: { response: 12500B } }",
    );
    let run = |extra: &str| {
        let yaml = format!("{sized}{extra}");
        let loaded = load_str_with("t.yaml", &yaml, &[], Limits::SIMULATION).unwrap();
        let opts = Options {
            seed: 7,
            hop_cost: 0,
            telemetry: false,
            ..Options::default()
        };
        simulate(&loaded.topology, &opts).expect("simulates")
    };
    // 12,500 bytes at 10 Mbit/s: 10 ms, on the way back only.
    let there = run("network:\n  links:\n    api -> db: { bandwidth: 10mbit }\n");
    let both = run("network:\n  links:\n    api <-> db: { bandwidth: 10mbit }\n");
    let added = mean_ms(&both) - mean_ms(&there);
    assert!((9.9..10.1).contains(&added), "added {added:.2} ms, not 10");
}
