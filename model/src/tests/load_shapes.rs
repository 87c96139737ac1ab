//! `stages` (constant, ramped, closed-loop), `duration` beside stages, `mix`
//! and `sessions`: what they become in the checked model, and the errors
//! each can give, with their locations.

use std::time::Duration;

use super::errors_of as errors;
use crate::*;

const HEAD: &str = "name: t\nservices:\n  a:\n    endpoints: { X: {}, Y: {} }\nload:\n  g:\n";

fn load(body: &str) -> Generator {
    let text = format!("{HEAD}{body}");
    let loaded = load_str("t.yaml", &text, &[]).unwrap_or_else(|r| panic!("{r}"));
    loaded.topology.load[0].clone()
}

fn e(message: &str, at: &str) -> (String, String) {
    (format!("error: {message}"), format!("t.yaml:{at}"))
}

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

#[test]
fn open_stages_with_a_ramp() {
    let g = load(
        "    target: a/X\n    arrivals: constant\n    stages:\n      - { rate: 5/s, for: 10s }\n      - { rate: 5/s -> 50/s, for: 20s }\n      - rate: 0/s\n        for: 2s\n",
    );
    let Pattern::Open { arrivals, stages } = &g.pattern else {
        panic!("{:?}", g.pattern)
    };
    assert_eq!(*arrivals, Arrivals::Constant);
    let got: Vec<_> = stages.iter().map(|s| (s.from, s.to, s.duration)).collect();
    assert_eq!(
        got,
        [(5.0, 5.0, s(10)), (5.0, 50.0, s(20)), (0.0, 0.0, s(2))]
    );
    assert_eq!(g.duration, s(32));
    assert_eq!(g.pattern.peak_rate(), 50.0);
    // (50 + 550 + 0) requests over 32 s.
    assert!((g.pattern.mean_rate().unwrap() - 600.0 / 32.0).abs() < 1e-9);
}

#[test]
fn closed_stages_and_think() {
    let g = load(
        "    target: a/X\n    think: 10ms\n    stages:\n      - { clients: 1, for: 1s }\n      - { clients: 8, for: 3s }\n",
    );
    let Pattern::Closed { think, stages } = &g.pattern else {
        panic!("{:?}", g.pattern)
    };
    assert!(think.is_some());
    assert_eq!(
        stages,
        &[
            ClientStage {
                clients: 1,
                duration: s(1)
            },
            ClientStage {
                clients: 8,
                duration: s(3)
            }
        ]
    );
    assert_eq!(g.pattern.mean_rate(), None);
}

#[test]
fn duration_beside_stages_scales_them() {
    let g = load(
        "    target: a/X\n    duration: 3s\n    stages:\n      - { rate: 5/s, for: 10s }\n      - { rate: 5/s -> 50/s, for: 20s }\n",
    );
    let Pattern::Open { stages, .. } = &g.pattern else {
        panic!()
    };
    assert_eq!(stages[0].duration, s(1));
    assert_eq!(stages[1].duration, s(2));
    assert_eq!((stages[1].from, stages[1].to), (5.0, 50.0));
    assert_eq!(g.duration, s(3));
}

#[test]
fn plain_rate_is_one_stage() {
    let g = load("    target: a/X\n    rate: 4/s\n    duration: 30s\n");
    assert_eq!(
        g.pattern,
        Pattern::Open {
            arrivals: Arrivals::Poisson,
            stages: vec![RateStage {
                from: 4.0,
                to: 4.0,
                duration: s(30)
            }]
        }
    );
    assert_eq!(g.sessions, 0);
}

#[test]
fn mix_and_sessions() {
    let g = load(
        "    mix: { a/X: 80%, a/Y: 20% }\n    rate: 4/s\n    duration: 1s\n    sessions: 100\n",
    );
    let got: Vec<_> = g
        .mix
        .iter()
        .map(|w| (w.target.to_string(), w.share))
        .collect();
    assert_eq!(got, [("a/X".to_string(), 0.8), ("a/Y".to_string(), 0.2)]);
    assert_eq!(g.target.to_string(), "a/X");
    assert_eq!(g.sessions, 100);
}

#[test]
fn mix_errors() {
    let text = format!(
        "{HEAD}    mix: {{ a/X: 70%, a/Z: 20% }}\n    rate: 4/s\n    duration: 1s\n  h:\n    mix: {{ a/X: 70%, a/Y: 20% }}\n    target: a/X\n    rate: 1/s\n    duration: 1s\n  i:\n    mix: {{ a/X: 50%, a/Y: 40% }}\n    rate: 1/s\n    duration: 1s\n"
    );
    assert_eq!(
        errors(&text),
        [
            e("the shares in `mix` add up to 90%, not 100%", "7:5"),
            e("unknown endpoint `Z` of service `a`", "7:22"),
            e("generator `h` has both `target` and `mix`", "11:5"),
            e("the shares in `mix` add up to 90%, not 100%", "16:5"),
        ]
    );
}

#[test]
fn stage_errors() {
    let text = format!(
        "{HEAD}    target: a/X\n    rate: 1/s\n    stages: [{{ rate: 1/s, for: 1s }}]\n  h:\n    target: a/X\n    stages:\n      - {{ rate: 1/s }}\n      - {{ clients: 2, for: 1s }}\n      - {{ rate: 1/s -> fast, for: 1s }}\n  i:\n    target: a/X\n    stages: []\n  j:\n    target: a/X\n    stages: [{{ rate: 0/s, for: 1s }}]\n  k:\n    target: a/X\n    rate: 1/s\n    duration: 1s\n    sessions: 0\n"
    );
    assert_eq!(
        errors(&text),
        [
            e("generator `g` has both `rate` and `stages`", "8:5"),
            e("stage 1 needs `for`", "13:9"),
            e(
                "this stage is not of the same kind as the first one",
                "14:9"
            ),
            e("invalid `rate`: `fast` has no `/s` or `/m`", "15:17"),
            e("`stages` is empty", "18:13"),
            e("the `stages` of generator `j` never send anything", "21:5"),
            e("`sessions` must be at least 1, found `0`", "26:15"),
        ]
    );
}
