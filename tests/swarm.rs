//! `run --on swarm` on the real local Docker Swarm: the stack is deployed, the
//! load driver runs in the stack's network, the run folder comes back with
//! the same invariants as a local run, a `kill` fault kills a container, and
//! afterwards nothing of the run is left (stack, service, container, network,
//! config), also when the launcher is stopped with Ctrl-C or killed with
//! SIGKILL (its guardian removes the stack). The replicas' spans reach the
//! driver's collector: `traces.jsonl` holds each request as one tree from the
//! load's root through every service. A missing Docker or Swarm fails these
//! tests in CI and skips them elsewhere (`common::require_peer`).

mod common;

use parking_lot::Mutex;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::swarm::{leftovers, run_on_swarm};
use common::{Sandbox, Signal, assert_counts_add_up, peers, require_peer, wait_for_line};
use rustix::process::Pid;
use serde_json::Value;
use topolab_results::trace::{self, Kind, tree::Tree};

/// One stack at a time: two on a two-core machine would starve each other.
static ONE_STACK: Mutex<()> = Mutex::new(());

#[test]
fn chain_runs_on_swarm_and_leaves_nothing_behind() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sandbox = Sandbox::new();
    let (summary, stack) = run_on_swarm(&sandbox, "topologies/chain.yaml", &["--duration", "4s"]);
    let load = &summary["load"]["shoppers"];
    assert_counts_add_up(load);
    let sent = load["sent"].as_u64().unwrap();
    assert!(sent >= 150, "50/s for 4 s: {load}");
    assert!(
        load["ok"].as_u64().unwrap() * 10 >= sent * 9,
        "mostly OK: {load}"
    );
    for service in ["gateway", "orders", "inventory", "db"] {
        let s = &summary["services"][service];
        let ep = s["endpoints"].as_object().unwrap().values().next().unwrap();
        // Every OK request crossed every hop; a request that failed on the
        // way (a callee not yet resolved on a busy machine) stops short.
        let (seen, ok) = (
            ep["requests"].as_u64().unwrap(),
            load["ok"].as_u64().unwrap(),
        );
        assert!(
            (ok..=sent).contains(&seen),
            "{service} saw every OK request and no more than were sent: {ep}"
        );
        let shares = ep["per_replica"].as_array().unwrap();
        assert!(
            shares.iter().all(|n| n.as_u64().unwrap() > 0),
            "{service}: {shares:?}"
        );
    }
    assert!(sandbox.out().join("timeseries.csv").exists());
    assert!(sandbox.out().join("report.html").exists());
    assert_replica_spans_reach_the_run(&sandbox, sent, &summary["traces"]);
    assert_eq!(
        leftovers(&stack),
        Vec::<String>::new(),
        "nothing of {stack} remains"
    );
}

/// chain.yaml traces every request: the replicas in containers send their
/// SERVER spans to the driver's collector, each under the load's root span of
/// its request. Nearly every request is whole (a batch lost on a busy machine
/// is counted as dropped, so a few may be partial).
fn assert_replica_spans_reach_the_run(sandbox: &Sandbox, sent: u64, figures: &Value) {
    let traces = trace::load(&sandbox.out()).expect("traces.jsonl reads");
    let path = [
        ("gateway", "PlaceOrder"),
        ("orders", "Create"),
        ("inventory", "Reserve"),
        ("db", "Update"),
    ];
    let whole = traces
        .iter()
        .filter(|t| {
            let Some(root) = t.root() else { return false };
            root.kind == Kind::Client
                && root.process == "load/shoppers"
                && Tree::new(t).roots().len() == 1
                && path.iter().all(|(service, endpoint)| {
                    t.spans.iter().any(|s| {
                        s.kind == Kind::Server
                            && s.name == format!("{service}/{endpoint}")
                            && s.process == format!("{service}#0")
                    })
                })
        })
        .count() as u64;
    assert!(
        whole * 10 >= sent * 9,
        "{whole} of {sent} requests are one tree from the load through every replica; traces: {figures}"
    );
    assert!(
        figures["spans_received"].as_u64().unwrap() >= whole * 8,
        "eight spans per whole request: {figures}"
    );
}

#[test]
fn spof_kill_fault_kills_a_container_on_swarm() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sandbox = Sandbox::new();
    let (summary, stack) = run_on_swarm(&sandbox, "topologies/spof.yaml", &[]);
    for (name, g) in summary["load"].as_object().unwrap() {
        assert_counts_add_up(g);
        assert!(g["sent"].as_u64().unwrap() > 100, "{name}: {g}");
    }
    let faults = summary["faults"].as_array().unwrap();
    let reached: Vec<&Value> = faults.iter().map(|f| &f["replicas"]).collect();
    assert_eq!(
        reached,
        [
            &serde_json::json!(["solo#0"]),
            &serde_json::json!(["fleet#0"])
        ],
        "each kill reached its container: {faults:#?}"
    );
    // The lone server's death fails what follows; the fleet's is absorbed.
    let after = |g: &str| &summary["load"][g];
    let solo_ok = after("solo-after")["ok"].as_u64().unwrap();
    let fleet_ok = after("fleet-after")["ok"].as_u64().unwrap();
    assert!(
        solo_ok * 5 < fleet_ok,
        "solo {solo_ok} vs fleet {fleet_ok} OK after the kill"
    );
    // The dead container's address answers nothing; the calls to it fail
    // as UNAVAILABLE once a connection gets no answer, as they do locally
    // (refused), rather than each waiting out its 1 s timeout.
    let solo = after("solo-after");
    let unavailable = solo["errors"]["UNAVAILABLE"].as_u64().unwrap_or(0);
    assert!(
        unavailable * 10 >= solo["sent"].as_u64().unwrap() * 9,
        "solo-after fails as UNAVAILABLE: {solo}"
    );
    assert_eq!(
        summary["services"]["solo"]["unreachable"],
        serde_json::json!([0]),
        "the killed replica is unreachable: {}",
        summary["services"]["solo"]
    );
    // Every fleet replica served its share before the kill (its callers count it).
    let calls = &summary["services"]["lb"]["calls"]["fleet/Feed"]["per_replica"];
    let shares: Vec<u64> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(shares.len(), 3, "{calls}");
    assert!(shares.iter().all(|n| *n > 20), "{shares:?}");
    assert_eq!(
        leftovers(&stack),
        Vec::<String>::new(),
        "nothing of {stack} remains"
    );
}

/// scores.yaml on the Swarm: the replicas in containers take the load's
/// start from the driver and follow the same timeline as the driver's
/// followers, so the checks of the local run (tests/updates.rs) hold.
#[test]
fn scores_on_swarm_holds_the_local_checks() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sandbox = Sandbox::new();
    let (summary, stack) = run_on_swarm(&sandbox, "topologies/scores.yaml", &common::scores::ARGS);
    common::scores::assert_scores(&summary, &sandbox.out());
    assert_eq!(leftovers(&stack), Vec::<String>::new());
}

/// `run --on swarm --predict`: as after a local run, the prediction is
/// written beside what the Swarm run measured (`prediction/`, and its
/// section in `report.html`), for the same seed; what no hop cost can move
/// (the rate served, nothing failing) agrees.
#[test]
fn predict_is_set_beside_a_swarm_run() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sandbox = Sandbox::new();
    let (measured, _) = run_on_swarm(
        &sandbox,
        "topologies/chain.yaml",
        &["--duration", "4s", "--predict", "--hop-cost", "400us"],
    );
    let predicted = common::read_summary(&sandbox.out().join("prediction"));
    assert_eq!(predicted["seed"], measured["seed"], "the same seed");
    let report = std::fs::read_to_string(sandbox.out().join("report.html")).unwrap();
    assert!(report.contains("Predicted vs measured"), "no section");
    let band = &predicted["prediction"]["noise"]["figures"]["load.shoppers"]["ok/s"];
    let (mean, half) = (
        band["mean"].as_f64().unwrap(),
        band["half"].as_f64().unwrap(),
    );
    let ok_s = measured["load"]["shoppers"]["throughput"].as_f64().unwrap();
    assert!(
        (ok_s - mean).abs() <= half,
        "measured {ok_s} ok/s within the predicted {mean} ± {half}"
    );
    assert_eq!(
        predicted["load"]["shoppers"]["errors"],
        serde_json::json!({})
    );
}

/// A `restart: always` replica killed on the Swarm comes back as a new task
/// at a new address: the run counts the restart when it happened (from the
/// Swarm's tasks), the fresh replica takes the load's start (told again to
/// whatever DNS lists) so subscribers through the balancer follow the same
/// timeline to the end, a generator calling the service directly follows it
/// to its new address, and its figures are collected there.
#[test]
fn a_restarted_container_is_counted_and_follows_the_timeline() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sandbox = Sandbox::new();
    let file = sandbox.file(
        "comeback.yaml",
        "name: comeback\nservices:\n  scores:\n    replicas: 2\n    restart: always\n    updates: exp(300ms)\n    model: async\n    endpoints:\n      Latest: { steps: [ {work: 1ms} ] }\n  lb:\n    kind: balancer\n    backend: scores\n    model: async\nload:\n  fans:\n    subscribe: lb/Latest\n    clients: 10\n    duration: 8s\n  direct:\n    target: scores/Latest\n    rate: 50/s\n    duration: 8s\n    timeout: 1s\nfaults:\n  - { at: 2s, target: \"scores#0\", kill: true }\nsettings:\n  seed: 3\n",
    );
    let (summary, stack) = run_on_swarm(&sandbox, file.to_str().unwrap(), &[]);
    let scores = &summary["services"]["scores"];
    assert_eq!(scores["restarts"], 1, "{scores}");
    let log = summary["restart_log"].as_array().unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["replica"], "scores#0");
    let t = log[0]["t_s"].as_f64().unwrap();
    assert!(
        (2.0..4.0).contains(&t),
        "restarted after the kill at 2 s: {t}"
    );
    assert!(
        scores["unreachable"].is_null(),
        "the fresh replica's figures were collected: {scores}"
    );
    let fans = &summary["load"]["fans"]["updates"];
    let created = fans["versions_created"].as_u64().unwrap();
    assert!(created >= 10, "{fans}");
    assert!(
        fans["versions_seen"].as_u64().unwrap() + fans["versions_missed"].as_u64().unwrap()
            >= 10 * created - 10,
        "every subscriber follows to the end, across the kill: {fans}"
    );
    assert!(fans["reconnects"].as_u64().unwrap() >= 1, "{fans}");
    // A generator calling the service directly moves to the new task's
    // address once DNS lists it (about a second of scores#0's quarter of
    // the calls fail meanwhile, as UNAVAILABLE, none by timing out).
    let direct = &summary["load"]["direct"];
    assert_counts_add_up(direct);
    let (sent, ok) = (
        direct["sent"].as_u64().unwrap(),
        direct["ok"].as_u64().unwrap(),
    );
    assert!(
        ok * 10 >= sent * 8,
        "the calls found the fresh replica: {direct}"
    );
    assert_eq!(direct["timeouts"], 0, "{direct}");
    assert_eq!(leftovers(&stack), Vec::<String>::new());
}

/// Starts a long `run --on swarm` of `chain.yaml` in its own process group,
/// waits until the load driver's container runs, then sends `signal` to the
/// launcher's whole group; returns the stack's name and the launcher.
fn signal_mid_run(sandbox: &Sandbox, signal: Signal) -> (String, std::process::Child) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/chain.yaml");
    let out = sandbox.out();
    let mut launcher = sandbox
        .command(&[
            "run",
            path.to_str().unwrap(),
            "--on",
            "swarm",
            "--quiet",
            "--duration",
            "120s",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let stack = format!("topolab-chain-{}", launcher.id());
    let lines = wait_for_line(&mut launcher, "every service runs its replicas");
    assert!(
        lines.iter().any(|l| l.contains("every service runs")),
        "the stack came up: {lines:?}"
    );
    let driver = format!("name=^{stack}-driver$");
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let ps = Command::new("docker")
            .args(["ps", "-q", "--filter", &driver])
            .output()
            .unwrap();
        if !ps.stdout.is_empty() {
            break;
        }
        assert!(Instant::now() < until, "the driver of {stack} never ran");
        std::thread::sleep(Duration::from_millis(300));
    }
    // The launcher's whole process group, as a terminal signals it.
    let _ = rustix::process::kill_process_group(Pid::from_child(&launcher), signal);
    (stack, launcher)
}

/// Waits up to `limit` until nothing of `stack` and no process of the
/// sandbox (guardian, `docker run` client) remains; what is left otherwise.
fn wait_nothing_left(sandbox: &Sandbox, stack: &str, limit: Duration) -> Vec<String> {
    let until = Instant::now() + limit;
    loop {
        let mut left = leftovers(stack);
        left.extend(
            sandbox
                .live_processes()
                .iter()
                .map(|p| format!("process {p}")),
        );
        if left.is_empty() || Instant::now() > until {
            return left;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn sigkilled_launcher_leaves_no_stack_behind() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sandbox = Sandbox::new();
    let (stack, mut launcher) = signal_mid_run(&sandbox, Signal::KILL);
    let killed = Instant::now();
    launcher.wait().unwrap();
    let left = wait_nothing_left(&sandbox, &stack, Duration::from_secs(60));
    assert_eq!(left, Vec::<String>::new(), "nothing of {stack} remains");
    eprintln!(
        "guardian removed {stack} {:.1} s after SIGKILL",
        killed.elapsed().as_secs_f64()
    );
}

#[test]
fn ctrl_c_stops_a_swarm_run_and_leaves_nothing_behind() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sandbox = Sandbox::new();
    let (stack, mut launcher) = signal_mid_run(&sandbox, Signal::INT);
    let until = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = launcher.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < until, "the launcher ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(status.success(), "a stopped run still succeeds: {status}");
    assert!(
        sandbox.out().join("summary.json").exists(),
        "the folder is written"
    );
    // The launcher removed the stack itself before exiting.
    assert_eq!(
        leftovers(&stack),
        Vec::<String>::new(),
        "nothing of {stack} remains"
    );
    let left = wait_nothing_left(&sandbox, &stack, Duration::from_secs(10));
    assert_eq!(left, Vec::<String>::new(), "the guardian exited");
}
