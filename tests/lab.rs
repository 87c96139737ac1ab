//! `topolab lab` through its API, as scripts and the page use it: nobody
//! without the token (401) or from another origin (403) drives it; a bad
//! command is 400 with the validator's reason and changes nothing; the
//! stream sends at least four frames a second; kill and restart reach the
//! replica; and a session replays through `topolab run lab.yaml` with the
//! same counts per generator.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::lab::{Lab, agent};
use common::{Sandbox, assert_binomial, read_summary};
use serde_json::{Value, json};

/// Nothing a refused request asked for happened.
fn unchanged(lab: &Lab) {
    let s = lab.state();
    assert_eq!(s["sets"], json!([]), "{s}");
    assert_eq!(s["actions"], json!([]), "{s}");
    assert_eq!(
        s["knobs"]["regulars"],
        json!({"rate": null, "clients": null, "paused": false}),
        "{s}"
    );
}

#[test]
fn without_the_token_or_from_another_origin_nothing_is_driven() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    for path in ["/", "/api/state", "/api/events", "/lab.js"] {
        let r = agent().get(format!("{}{path}", lab.base)).call().unwrap();
        assert_eq!(r.status().as_u16(), 401, "GET {path} without a token");
    }
    let wrong = agent()
        .get(format!("{}/api/state?token=0123", lab.base))
        .call()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401, "a wrong token");
    let stop = json!({"stop": true}).to_string();
    let bare = agent()
        .post(format!("{}/api/control", lab.base))
        .send(stop.clone())
        .unwrap();
    assert_eq!(bare.status().as_u16(), 401, "POST without a token");
    let foreign = agent()
        .post(format!("{}/api/control", lab.base))
        .header("Authorization", format!("Bearer {}", lab.token))
        .header("Origin", "http://evil.example")
        .send(stop)
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 403, "POST from another origin");
    unchanged(&lab);
    // The page's own way: the cookie set by opening the URL.
    let page = agent().get(lab.url()).call().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains(&lab.token) && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let by_cookie = agent()
        .get(format!("{}/api/state", lab.base))
        .header("Cookie", cookie.split(';').next().unwrap())
        .call()
        .unwrap();
    assert_eq!(by_cookie.status().as_u16(), 200);
    let (status, _) = lab.stop();
    assert!(status.success());
}

#[test]
fn beyond_loopback_it_warns_and_still_needs_the_token() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &["--listen", "0.0.0.0:0"]);
    assert!(
        lab.warned
            .lock()
            .contains("warning: the lab listens on 0.0.0.0"),
        "{}",
        lab.warned.lock()
    );
    let r = agent()
        .get(format!("{}/api/state", lab.base))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (status, _) = lab.stop();
    assert!(status.success());
}

#[test]
fn a_bad_command_is_refused_with_the_validators_reason_and_changes_nothing() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    let cases = [
        (json!({"set": "load.nobody.rate", "value": "9/s"}), "nobody"),
        (
            json!({"set": "load.regulars.rate", "value": "0/s"}),
            "above zero",
        ),
        (
            json!({"set": "load.regulars.rate", "value": "-2/s"}),
            "rate",
        ),
        (
            json!({"set": "load.regulars.rate", "value": "fast"}),
            "fast",
        ),
        (
            json!({"set": "services.kitchen.workers", "value": "0"}),
            "workers",
        ),
        (json!({"pause": "nobody"}), "no generator `nobody`"),
        (json!({"kill": "pantry"}), "pantry"),
        (json!({"restart": "kitchen"}), "service#index"),
        (json!({"kill": "kitchen#7"}), "kitchen#7"),
        (
            json!({"fault": {"target": "pantry", "slow": "3x"}}),
            "pantry",
        ),
        (
            json!({"fault": {"target": "kitchen", "slow": "3x", "at": "1s"}}),
            "no `at`",
        ),
        (json!({"launch": "rockets"}), "unknown command"),
    ];
    for (command, reason) in &cases {
        let (status, body) = lab.control(command);
        assert_eq!(status, 400, "{command}: {body}");
        let said = body["error"].as_str().unwrap_or_default();
        assert!(said.contains(reason), "{command}: {said}");
    }
    // A change the validator takes but a running lab cannot make (yet).
    let (status, body) =
        lab.control(&json!({"set": "services.kitchen.restart", "value": "always"}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not supported yet"),
        "{body}"
    );
    let (status, body) = lab.control(&json!({"set": "load.regulars.rate", "value": "1/s"}));
    assert_eq!(status, 200, "{body}");
    let s = lab.state();
    assert_eq!(s["knobs"]["regulars"]["rate"], 1.0, "{s}");
    assert_eq!(s["sets"], json!(["load.regulars.rate=1/s"]), "{s}");
    let (status, _) = lab.stop();
    assert!(status.success());
}

#[test]
fn the_stream_sends_at_least_four_frames_a_second() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    let r = agent()
        .get(format!("{}/api/events", lab.base))
        .header("Authorization", format!("Bearer {}", lab.token))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut lines = BufReader::new(r.into_body().into_reader()).lines();
    let started = Instant::now();
    let mut frames = Vec::new();
    while started.elapsed() < Duration::from_secs(3) {
        let line = lines.next().expect("the stream ended").unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            frames.push(serde_json::from_str::<Value>(data).expect("a frame is JSON"));
        }
    }
    // 5 a second are sent; one may fall on either side of the window.
    assert!(frames.len() >= 12, "{} frames in 3 s", frames.len());
    let last = frames.last().unwrap();
    assert!(
        last["generators"]["regulars"]["sent"].as_u64().unwrap() > 0,
        "{last}"
    );
    assert_eq!(last["replicas"][0]["id"], "kitchen#0", "{last}");
    drop(lines);
    let (status, _) = lab.stop();
    assert!(status.success());
}

/// Polls the state until `pred` holds for kitchen#0, within `limit`.
fn until_replica(lab: &Lab, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + limit;
    loop {
        let s = lab.state();
        let r = &s["now"]["replicas"][0];
        if pred(r) {
            return r.clone();
        }
        assert!(Instant::now() < until, "kitchen#0 is {r}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kill_and_restart_reach_the_replica_and_are_marked_in_the_summary() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    lab.ok(json!({"kill": "kitchen#0"}));
    until_replica(&lab, Duration::from_secs(2), |r| r["alive"] == false);
    lab.ok(json!({"restart": "kitchen#0"}));
    until_replica(&lab, Duration::from_secs(2), |r| r["alive"] == true);
    // Back on its old address: answers come again.
    let ok = lab.state()["now"]["generators"]["regulars"]["ok"]
        .as_u64()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while lab.state()["now"]["generators"]["regulars"]["ok"]
        .as_u64()
        .unwrap()
        <= ok
    {
        assert!(Instant::now() < until, "no answer since the restart");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
    let summary = read_summary(&sb.out());
    let faults = summary["faults"].as_array().expect("faults");
    assert!(
        faults
            .iter()
            .any(|f| f["fault"] == "kill" && f["target"] == "kitchen#0"),
        "{faults:?}"
    );
    let restarts = summary["restart_log"].as_array().expect("restart_log");
    assert!(
        restarts.iter().any(|r| r["replica"] == "kitchen#0"),
        "{restarts:?}"
    );
    let lab_yaml = std::fs::read_to_string(sb.out().join("lab.yaml")).unwrap();
    assert!(lab_yaml.contains("kill:"), "{lab_yaml}");
    assert!(lab_yaml.contains("restarted kitchen#0"), "{lab_yaml}");
}

#[test]
fn workers_and_queue_limit_reach_the_running_replica() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    lab.ok(json!({"pause": "lunch-rush"}));
    lab.ok(json!({"set": "load.regulars.rate", "value": "20/s"}));
    until_replica(&lab, Duration::from_secs(10), |r| {
        r["queue"].as_u64() >= Some(8)
    });
    lab.ok(json!({"set": "services.kitchen.queue", "value": "3"}));
    // Waiters are not turned away; arrivals are, until the queue is below 3.
    until_replica(&lab, Duration::from_secs(10), |r| {
        r["queue"].as_u64() <= Some(3)
    });
    lab.ok(json!({"set": "services.kitchen.workers", "value": "4"}));
    let r = until_replica(&lab, Duration::from_secs(3), |r| {
        r["busy"].as_u64() > Some(1)
    });
    assert_eq!(r["workers"], 4, "{r}");
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
    let text = std::fs::read_to_string(sb.out().join("lab.yaml")).unwrap();
    assert!(text.contains("set services.kitchen.workers=4"), "{text}");
}

/// The prediction answering the last action, once the frames carry it.
fn prediction_after_last_action(lab: &Lab, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let s = lab.state();
        let t = s["actions"].as_array().unwrap().last().unwrap()["t_s"]
            .as_f64()
            .unwrap();
        let p = &s["now"]["predicted"];
        if p["at_s"].as_f64().is_some_and(|at| at >= t - 0.001) {
            return p.clone();
        }
        assert!(
            started.elapsed() < limit,
            "no prediction after t = {t}: {p}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_prediction_follows_every_change_within_a_second() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    lab.ok(json!({"pause": "lunch-rush"}));
    lab.ok(json!({"set": "load.regulars.rate", "value": "1/s"}));
    let low = prediction_after_last_action(&lab, Duration::from_secs(2));
    assert!(
        low["generators"].get("lunch-rush").is_none(),
        "a paused generator is predicted: {low}"
    );
    lab.ok(json!({"set": "load.regulars.rate", "value": "4.5/s"}));
    let high = prediction_after_last_action(&lab, Duration::from_secs(2));
    let p50 = |p: &Value| p["generators"]["regulars"]["p50_ms"].as_f64().unwrap();
    let queue = |p: &Value| p["services"]["kitchen"]["queue"].as_f64().unwrap();
    // A cook of 5/s: at 1/s orders hardly wait, at 4.5/s they queue.
    assert!(p50(&high) > 2.0 * p50(&low), "{low}\n{high}");
    assert!(queue(&high) > queue(&low) + 1.0, "{low}\n{high}");
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
}

/// Requests `regulars` has sent, as the frames say.
fn regulars_sent(lab: &Lab) -> u64 {
    lab.state()["now"]["generators"]["regulars"]["sent"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_pause_and_a_raise_reach_the_generator_within_a_second() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    lab.ok(json!({"pause": "regulars"}));
    // Frames are 200 ms apart: one second later the count has stopped.
    std::thread::sleep(Duration::from_secs(1));
    let paused = regulars_sent(&lab);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(regulars_sent(&lab), paused, "sent while paused");
    lab.ok(json!({"resume": "regulars"}));
    lab.ok(json!({"set": "load.regulars.rate", "value": "200/s"}));
    std::thread::sleep(Duration::from_secs(1));
    let raised = regulars_sent(&lab) - paused;
    // 200/s for a second, less a frame's lag and a busy machine's delay,
    // against the 3 it would send at 3/s.
    assert!(raised > 60, "{raised} sent in the second after 200/s");
    // Reset: the page's windows start afresh; the counts go on.
    lab.ok(json!({"reset": true}));
    let until = Instant::now() + Duration::from_secs(2);
    while lab.state()["now"]["resets"] != 1 {
        assert!(Instant::now() < until, "no frame after the reset");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(regulars_sent(&lab) >= paused + raised);
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
}

/// Sent requests of each generator in a summary.
fn sent(summary: &Value, generator: &str) -> u64 {
    summary["load"][generator]["sent"].as_u64().unwrap()
}

#[test]
fn a_session_scripted_through_the_api_replays_with_the_same_counts() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    std::thread::sleep(Duration::from_secs(2));
    lab.ok(json!({"set": "load.regulars.rate", "value": "8/s"}));
    std::thread::sleep(Duration::from_secs(3));
    lab.ok(json!({"pause": "regulars"}));
    std::thread::sleep(Duration::from_secs(2));
    lab.ok(json!({"resume": "regulars"}));
    lab.ok(json!({"set": "load.lunch-rush.rate", "value": "6/s"}));
    std::thread::sleep(Duration::from_secs(5));
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
    let session = read_summary(&sb.out());
    let actions: Vec<&str> = session["actions"]
        .as_array()
        .expect("the lab's actions in summary.json")
        .iter()
        .map(|a| a["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "set load.regulars.rate=8/s",
            "pause regulars",
            "resume regulars",
            "set load.lunch-rush.rate=6/s",
            "stop"
        ]
    );
    let report = std::fs::read_to_string(sb.out().join("report.html")).unwrap();
    assert!(
        report.contains("a change made from the lab"),
        "the report's key"
    );
    let lab_yaml = sb.out().join("lab.yaml");
    let text = std::fs::read_to_string(&lab_yaml).unwrap();
    assert!(
        text.contains("stages:") && text.contains("rate: 0/s"),
        "{text}"
    );

    let replay = Sandbox::new();
    let out = replay.run(&lab_yaml, &["--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed = read_summary(&replay.out());
    for g in ["regulars", "lunch-rush"] {
        let (a, b) = (sent(&session, g), sent(&replayed, g));
        // Two runs of the same load: given a + b requests in all, each is
        // one of the two runs' with probability 1/2.
        assert_binomial(
            &format!("`{g}` sent in the lab, of both runs"),
            a,
            a + b,
            0.5,
        );
    }
}

/// Push against pull, live: a score that changes every 10 s is made to
/// change every 200 ms while the lab runs. Every replica and the
/// launcher's timeline switch together: the followers then see versions
/// several times a second, the subscribers every one of them, while the
/// pollers (every 1 s) miss most.
#[test]
fn how_often_the_data_changes_is_a_knob_too() {
    let sb = Sandbox::new();
    let file = sb.file(
        "scores.yaml",
        "name: live-scores\nservices:\n  scores:\n    updates: 10s\n    model: async\n    replicas: 2\n    endpoints:\n      Latest: { steps: [ {work: 1ms} ] }\nload:\n  pollers:\n    target: scores/Latest\n    clients: 5\n    poll: 1s\n    duration: 60s\n  fans:\n    subscribe: scores/Latest\n    clients: 5\n    duration: 60s\n",
    );
    let lab = Lab::start(&sb, &[file.to_str().unwrap()]);
    std::thread::sleep(Duration::from_secs(1));
    let (code, said) = lab.control(&json!({"set": "services.scores.updates", "value": "0ms"}));
    assert_eq!(code, 400, "validated as --set is: {said}");
    lab.ok(json!({"set": "services.scores.updates", "value": "200ms"}));
    std::thread::sleep(Duration::from_secs(4));
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
    let s = common::read_summary(&sb.out());
    let fans = &s["load"]["fans"]["updates"];
    let pollers = &s["load"]["pollers"]["updates"];
    // ~4 s at 200 ms: about 20 versions (0 or 1 before the change).
    let created = fans["versions_created"].as_u64().unwrap();
    assert!((12..=30).contains(&created), "{fans}");
    assert_eq!(
        pollers["versions_created"], created,
        "one timeline: {pollers}"
    );
    // Streams follow every version; polls once a second miss most.
    let (seen, missed) = (
        fans["versions_seen"].as_u64().unwrap(),
        fans["versions_missed"].as_u64().unwrap(),
    );
    assert!(
        missed * 10 <= seen,
        "subscribers see nearly every version: {fans}"
    );
    let p_missed = pollers["versions_missed"].as_u64().unwrap();
    assert!(
        p_missed * 2 > pollers["versions_seen"].as_u64().unwrap(),
        "pollers miss most: {pollers}"
    );
    // Replicas agree: a subscriber's staleness stays about one hop.
    assert!(
        fans["staleness_ms"]["p50"].as_f64().unwrap() < 50.0,
        "{fans}"
    );
    let text = std::fs::read_to_string(sb.out().join("lab.yaml")).unwrap();
    assert!(text.contains("set services.scores.updates=200ms"), "{text}");
}
