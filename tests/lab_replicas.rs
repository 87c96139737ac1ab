//! `topolab lab`'s replicas up and down through the API, on a balancer in
//! front of one replica (spof.yaml's `lb -> fleet`, without its kill): the
//! added replicas join the balancer and take a fair share of the calls
//! (their telemetry and figures reach the run folder), and going back down
//! drains them first, so no request fails for it and they get no more; a
//! count past the process cap, or below one, is refused and changes nothing.
//! A generator that calls the service itself follows too (the diner).
//! Tolerances are loose: the box has two busy cores.

mod common;

use std::time::{Duration, Instant};

use common::lab::Lab;
use common::{Sandbox, read_summary};
use serde_json::{Value, json};

const LB_OVER_ONE: &str = "
name: grow
settings: { seed: 3 }
services:
  lb:
    kind: balancer
    backend: api
    policy: round_robin
  api:
    replicas: 1
    workers: 4
    endpoints:
      Feed: { steps: [ {work: exp(5ms)} ] }
load:
  users: { target: lb/Feed, rate: 60/s, duration: 1s, timeout: 2s }
";

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The ids of `service`'s replicas the page shows now.
fn shown(lab: &Lab, service: &str) -> Vec<String> {
    let s = lab.state();
    s["now"]["replicas"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| r["service"] == service && r["alive"] == true)
                .map(|r| r["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn added_replicas_share_the_load_and_removed_ones_drain_first() {
    let sb = Sandbox::new();
    let file = sb.file("grow.yaml", LB_OVER_ONE);
    let lab = Lab::start(&sb, &[file.to_str().unwrap()]);
    std::thread::sleep(Duration::from_secs(1));
    lab.ok(json!({"set": "services.api.replicas", "value": "3"}));
    let until = Instant::now() + Duration::from_secs(5);
    while shown(&lab, "api").len() < 3 {
        assert!(
            Instant::now() < until,
            "the page shows {:?}",
            shown(&lab, "api")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(4));
    lab.ok(json!({"set": "services.api.replicas", "value": 1}));
    std::thread::sleep(Duration::from_secs(2));
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");

    let s = read_summary(&sb.out());
    let load = &s["load"]["users"];
    // Stopping may cancel requests still in flight; nothing else may fail.
    assert_eq!(n(&load["rejected"]), 0, "{load}");
    assert_eq!(n(&load["timeouts"]), 0, "{load}");
    for (code, count) in load["errors"].as_object().unwrap() {
        assert!(code.contains("CANCELLED"), "{code}: {count} in {load}");
    }
    let calls = &s["services"]["lb"]["calls"]["api/Feed"];
    let spread: Vec<u64> = calls["per_replica"]
        .as_array()
        .unwrap()
        .iter()
        .map(n)
        .collect();
    assert_eq!(spread.len(), 3, "{calls}");
    let total: u64 = spread.iter().sum();
    eprintln!("the balancer's calls per replica: {spread:?}");
    // About 4 s of the ~7 s ran on three replicas: the new two took about
    // a third of all calls, round-robin splitting them evenly.
    let added = (spread[1] + spread[2]) as f64 / total as f64;
    assert!(added > 0.2, "the added replicas took {spread:?}");
    let (lo, hi) = (spread[1].min(spread[2]), spread[1].max(spread[2]));
    assert!(lo as f64 >= 0.7 * hi as f64, "uneven: {spread:?}");
    // Their own figures reach the summary, though they were taken out.
    let api = &s["services"]["api"];
    assert_eq!(n(&api["replicas"]), 3, "{api}");
    let served: Vec<u64> = api["endpoints"]["Feed"]["per_replica"]
        .as_array()
        .unwrap()
        .iter()
        .map(n)
        .collect();
    assert_eq!(served, spread);
    let actions = s["actions"].to_string();
    assert!(actions.contains("services.api.replicas=3"), "{actions}");
    assert!(actions.contains("services.api.replicas=1"), "{actions}");
    // The added replicas' telemetry was polled: they had arrivals, none
    // once they were taken out (the action is recorded after the drain).
    let down = s["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["what"].as_str().unwrap().contains("replicas=1"))
        .and_then(|a| a["t_s"].as_f64())
        .unwrap();
    let (before, after) = arrivals_of_added(&sb.out().join("timeseries.csv"), down + 0.2);
    assert!(before > 0, "no telemetry from api#1 or api#2");
    assert_eq!(
        after, 0,
        "api#1 or api#2 got calls after being taken out at {down} s"
    );
    let lab_yaml = std::fs::read_to_string(sb.out().join("lab.yaml")).unwrap();
    assert!(lab_yaml.contains("api to 3 replica(s)"), "{lab_yaml}");
}

/// Arrivals at api#1 and api#2 in `timeseries.csv`, before and after `t_s`.
fn arrivals_of_added(path: &std::path::Path, t_s: f64) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (t, service, replica, arrived) =
        (col("t_s"), col("service"), col("replica"), col("arrived"));
    let (mut before, mut after) = (0, 0);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f[service] != "api" || f[replica] == "0" {
            continue;
        }
        let n: u64 = f[arrived].parse().unwrap();
        if f[t].parse::<f64>().unwrap() > t_s {
            after += n;
        } else {
            before += n;
        }
    }
    (before, after)
}

#[test]
fn replicas_past_the_process_cap_or_below_one_are_refused() {
    let sb = Sandbox::new();
    let file = sb.file("grow.yaml", LB_OVER_ONE);
    let lab = Lab::start(&sb, &[file.to_str().unwrap(), "--max-processes", "3"]);
    for value in ["3", "0"] {
        let (code, body) = lab.control(&json!({"set": "services.api.replicas", "value": value}));
        assert_eq!(code, 400, "{value}: {body}");
    }
    assert_eq!(lab.state()["actions"], json!([]));
    assert_eq!(shown(&lab, "api"), ["api#0"]);
    // Within the cap: one more, then back; the parked one is taken back.
    lab.ok(json!({"set": "services.api.replicas", "value": "2"}));
    lab.ok(json!({"set": "services.api.replicas", "value": "1"}));
    lab.ok(json!({"set": "services.api.replicas", "value": "2"}));
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
}

#[test]
fn on_spof_a_fourth_replica_takes_its_share_from_the_balancer() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &["topologies/spof.yaml"]);
    lab.ok(json!({"set": "services.fleet.replicas", "value": "4"}));
    // Past spof's own kill of fleet#0 at 3 s: #1, #2 and #3 share it all.
    std::thread::sleep(Duration::from_secs(4));
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
    let s = read_summary(&sb.out());
    let calls = &s["services"]["lb"]["calls"]["fleet/Feed"];
    let spread: Vec<u64> = calls["per_replica"]
        .as_array()
        .unwrap()
        .iter()
        .map(n)
        .collect();
    eprintln!("lb's calls per fleet replica: {spread:?}");
    assert_eq!(spread.len(), 4, "{calls}");
    // fleet#3 missed only the first moments (while it started).
    let others = spread[1].min(spread[2]);
    assert!(
        spread[3] as f64 >= 0.5 * others as f64,
        "fleet#3 got {spread:?}"
    );
    assert_eq!(n(&s["services"]["fleet"]["replicas"]), 4);
}

#[test]
fn in_the_diner_a_second_cook_takes_orders_straight_from_the_generators() {
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    // Enough orders for a share to mean something, and no queue: each cook
    // takes what it is sent at once. A new cook has the workers in force.
    lab.ok(json!({"pause": "lunch-rush"}));
    lab.ok(json!({"set": "services.kitchen.workers", "value": "8"}));
    lab.ok(json!({"set": "load.regulars.rate", "value": "25/s"}));
    std::thread::sleep(Duration::from_secs(1));
    lab.ok(json!({"set": "services.kitchen.replicas", "value": "2"}));
    let until = Instant::now() + Duration::from_secs(3);
    loop {
        let s = lab.state();
        let second = s["now"]["replicas"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["id"] == "kitchen#1").cloned());
        if let Some(r) = second.filter(|r| r["workers"].as_u64().is_some()) {
            assert_eq!(r["workers"], 8, "{r}");
            break;
        }
        assert!(Instant::now() < until, "kitchen#1 is not shown: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
    let s = read_summary(&sb.out());
    let kitchen = &s["services"]["kitchen"];
    let served: Vec<u64> = kitchen["endpoints"]["Cook"]["per_replica"]
        .as_array()
        .unwrap()
        .iter()
        .map(n)
        .collect();
    eprintln!("orders per cook: {served:?}");
    assert_eq!(served.len(), 2, "{kitchen}");
    // kitchen#1 took half of the last 3 s of 4: 3/5 of kitchen#0's share.
    assert!(
        served[1] as f64 >= 0.3 * served[0] as f64 && served[1] >= 15,
        "kitchen#1 took {served:?}"
    );
}
