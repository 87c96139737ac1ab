//! A replica's one thread in a burst (`sim/src/thread.rs`): a version's
//! answers and pushes leave one after another at the cost set for each,
//! pushes once their steps end, and the two in turn when both wait.

use topolab_model::{Limits, load_str_with};
use topolab_sim::{Figures, Options, simulate};

/// One hop's round trip: 1 ms, so half a millisecond each way.
const HOP: u64 = 1_000_000;

/// 50 clients each of `ways` (`long_poll: 30s` or `subscribe`) follow one
/// `async` replica with workers to spare, versions 2 s apart on average.
fn sim(ways: &[&str], message_cost: u64, push_cost: u64) -> Figures {
    let mut yaml = "name: t\nservices:\n  scores:\n    updates: exp(2s)\n    model: async\n    workers: 128\n    queue: 256\n    endpoints:\n      Latest:\n        steps:\n          - work: 1ms\nload:\n".to_string();
    for (i, way) in ways.iter().enumerate() {
        let target = match *way {
            "subscribe" => "    subscribe: scores/Latest\n".to_string(),
            w => format!("    target: scores/Latest\n    {w}\n"),
        };
        yaml += &format!("  g{i}:\n{target}    clients: 50\n    duration: 60s\n");
    }
    let loaded =
        load_str_with("t.yaml", &yaml, &[], Limits::SIMULATION).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        seed: 3,
        hop_cost: HOP,
        telemetry: false,
        message_cost,
        push_cost,
        ..Options::default()
    };
    simulate(&loaded.topology, &opts).expect("simulates")
}

fn stale_mean_ms(f: &Figures, g: usize) -> f64 {
    f.freshness[g]
        .as_ref()
        .expect("a follower")
        .staleness_us()
        .mean()
        / 1e3
}

#[test]
fn fifty_answers_leave_one_after_another() {
    let free = stale_mean_ms(&sim(&["long_poll: 30s"], 0, 0), 0);
    assert!((0.45..0.6).contains(&free), "{free:.2} ms: half a hop");
    // The k-th of 50 answers leaves k × 0.2 ms after the version: 25.5 ×
    // 0.2 ms on average, plus its half hop.
    let spread = stale_mean_ms(&sim(&["long_poll: 30s"], 200_000, 0), 0);
    assert!((5.3..5.9).contains(&spread), "{spread:.2} ms, not 5.6");
}

#[test]
fn pushes_leave_one_after_another_once_their_steps_end() {
    // Every push's 1 ms of work ends together, then the k-th message of 50
    // leaves k × 0.2 ms later: 1 + 5.1 + a half hop.
    let spread = stale_mean_ms(&sim(&["subscribe"], 0, 200_000), 0);
    assert!((6.3..6.9).contains(&spread), "{spread:.2} ms, not 6.6");
}

#[test]
fn answers_and_pushes_waiting_together_are_taken_in_turn() {
    let f = sim(&["long_poll: 30s", "subscribe"], 200_000, 200_000);
    let (answers, pushes) = (stale_mean_ms(&f, 0), stale_mean_ms(&f, 1));
    // Behind every answer, pushes would wait 10 ms more than alone (6.6);
    // in turn, they wait about as long as the answers.
    assert!(pushes < 14.0, "pushes {pushes:.2} ms, answers {answers:.2}");
    assert!(
        answers > 5.6,
        "answers {answers:.2} ms: the pushes took turns"
    );
    assert!(
        (pushes - answers).abs() < 3.0,
        "{pushes:.2} against {answers:.2}"
    );
}
