//! Link faults on the real local Docker Swarm, where each calling replica
//! shapes its own connections in user space (no netem in this kernel): a
//! delay on api -> db moves that link's time on the wire and not api ->
//! cache's, and a partition fails calls within their timeout and lets them
//! recover after it; a standing link shapes from the first call, and a
//! partition in force before the first connection refuses it; bandwidth
//! paces, and loss shows in the tail. The figures
//! come from the replicas' spans, as on a local run (`tests/net.rs`). A
//! missing Docker or Swarm fails these tests in CI and skips them elsewhere
//! (`common::require_peer`).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Sandbox, peers, require_peer};
use topolab_results::links::{LinkSummary, LinkSums};
use topolab_results::trace;

/// One stack at a time: two on a two-core machine would measure each other.
static ONE_STACK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// The links of the traces whose request started between `from` and `to`
/// seconds after the first request.
fn links_between(run: &Path, from: f64, to: f64) -> BTreeMap<String, LinkSummary> {
    let traces = trace::load(run).expect("traces");
    let t0 = traces
        .iter()
        .filter_map(|t| t.spans.first().map(|s| s.start_ns))
        .min()
        .expect("a trace");
    let mut sums = LinkSums::default();
    for t in &traces {
        let start = (t.spans[0].start_ns - t0) as f64 / 1e9;
        if (from..to).contains(&start) {
            sums.add(t);
        }
    }
    sums.finish()
}

/// Runs `yaml` on the Swarm; its summary and the launcher's stderr. The
/// stack (named in the launcher's "deploying stack" line) is gone after.
fn run_on_swarm(sb: &Sandbox, yaml: &str) -> (serde_json::Value, String) {
    let file = sb.file("topology.yaml", yaml);
    let out = sb.run(&file, &["--on", "swarm", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "run --on swarm failed:\n{stderr}");
    let stack = stderr
        .lines()
        .find_map(|l| l.strip_prefix("deploying stack "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the stack's name");
    let label = format!("label=com.docker.stack.namespace={stack}");
    let services = std::process::Command::new("docker")
        .args(["service", "ls", "-q", "--filter", &label])
        .output()
        .unwrap();
    assert!(services.stdout.is_empty(), "{stack} left services behind");
    (sb.summary(), stderr)
}

#[test]
fn a_delay_on_api_to_db_moves_that_link_only_on_swarm() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sb = Sandbox::new();
    let yaml = std::fs::read_to_string("tests/topologies/net-links.yaml").unwrap();
    let (s, stderr) = run_on_swarm(&sb, &yaml);
    assert!(
        stderr.contains("shaped by each calling replica, in user space"),
        "the run says who shapes the links: {stderr}"
    );
    // The fault is in force from 3 s to 7 s of load; leave its edges out.
    let before = links_between(&sb.out(), 0.5, 2.8);
    let during = links_between(&sb.out(), 3.3, 6.8);
    let rise = |link: &str| during[link].wire_ms.p50 - before[link].wire_ms.p50;
    let (db, cache) = (rise("api -> db"), rise("api -> cache"));
    eprintln!(
        "swarm wire p50 rise: api -> db {db:.2} ms, api -> cache {cache:.2} ms (before {:?} / {:?})",
        before["api -> db"].wire_ms, before["api -> cache"].wire_ms
    );
    assert!(
        (45.0..=55.0).contains(&db),
        "api -> db wire p50 rose by {db:.2} ms, not 50 ± 5 (before {:?}, during {:?})",
        before["api -> db"].wire_ms,
        during["api -> db"].wire_ms
    );
    assert!(
        cache.abs() < 2.0,
        "api -> cache wire p50 moved by {cache:.2} ms (before {:?}, during {:?})",
        before["api -> cache"].wire_ms,
        during["api -> cache"].wire_ms
    );
    let f = &s["faults"][0];
    assert_eq!(f["target"], "api -> db");
    assert_eq!(f["replicas"], serde_json::json!(["api#0"]), "{f}");
    assert!(f["cleared_s"].as_f64().is_some(), "{f}");
    assert!(
        f.get("problems")
            .is_none_or(|p| p.as_array().is_some_and(Vec::is_empty)),
        "{f}"
    );
}

#[test]
fn a_partition_fails_calls_and_they_recover_on_swarm() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sb = Sandbox::new();
    let yaml = "name: swarm-partition\nservices:\n  api:\n    workers: 32\n    model: async\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n            timeout: 300ms\n            breaker: { window: 1s, min_calls: 5, open_for: 500ms }\n  db:\n    workers: 16\n    model: async\n    endpoints: { Q: {} }\nload:\n  users: { target: api/Get, rate: 40/s, duration: 8s }\nfaults:\n  - { at: 2s, for: 2s, link: api <-> db, partition: true }\n";
    let (s, _) = run_on_swarm(&sb, yaml);
    // Calls that start and end inside the partition (2 s to 4 s, 300 ms
    // timeouts): a call started later may be answered once it is lifted,
    // when the held requests reach db at once.
    let during = links_between(&sb.out(), 2.4, 3.6);
    let d = &during["api -> db"];
    let cut: u64 = ["UNAVAILABLE", "DEADLINE_EXCEEDED"]
        .iter()
        .filter_map(|c| d.failed.get(*c))
        .sum();
    eprintln!("swarm partition: during {d:?}");
    assert!(
        cut * 10 >= d.calls * 9,
        "the partition should fail its calls: {d:?}"
    );
    // Within the call's timeout: no failed call to db took much over 300 ms.
    let slowest_failure = trace::load(&sb.out())
        .unwrap()
        .iter()
        .flat_map(|t| &t.spans)
        .filter(|s| {
            s.kind == trace::Kind::Client && s.callee.as_deref() == Some("db/Q") && s.code != 0
        })
        .map(|s| s.duration_ns() as f64 / 1e6)
        .fold(0.0, f64::max);
    eprintln!("swarm partition: slowest failed call to db {slowest_failure:.1} ms");
    assert!(
        slowest_failure > 0.0 && slowest_failure < 350.0,
        "failed calls should end within their 300 ms timeout: {slowest_failure:.1} ms"
    );
    let after = links_between(&sb.out(), 5.5, 7.8);
    let a = &after["api -> db"];
    eprintln!("swarm partition: after {a:?}");
    assert!(a.calls > 50 && a.failed.is_empty(), "no recovery: {a:?}");
    let calls = &s["services"]["api"]["calls"]["db/Q"];
    assert!(
        calls["breaker_opened"].as_u64().unwrap() > 0,
        "the breaker should have opened: {calls}"
    );
}

/// A standing link is shaped from the first call by each replica reading
/// the topology file (what `export compose` and `export kubernetes` carry);
/// a partition in force before api first connects to db is refused at the
/// connection (UNAVAILABLE, no time spent), and calls recover after it.
#[test]
fn a_standing_link_and_a_refused_connection_on_swarm() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sb = Sandbox::new();
    let yaml = "name: swarm-standing\nservices:\n  api:\n    workers: 32\n    model: async\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n            timeout: 300ms\n          - call: cache/Q\n  db:\n    workers: 16\n    model: async\n    endpoints: { Q: {} }\n  cache:\n    workers: 16\n    model: async\n    endpoints: { Q: {} }\nnetwork:\n  links:\n    api -> cache: { delay: 20ms }\nload:\n  users: { target: api/Get, rate: 40/s, duration: 6s }\nfaults:\n  - { at: 0s, for: 2s, link: api <-> db, partition: true }\n";
    let (_, stderr) = run_on_swarm(&sb, yaml);
    assert!(stderr.contains("in user space"), "{stderr}");
    let after = links_between(&sb.out(), 3.0, 5.8);
    let (db, cache) = (&after["api -> db"], &after["api -> cache"]);
    let rise = cache.wire_ms.p50 - db.wire_ms.p50;
    eprintln!(
        "swarm standing link: api -> cache p50 {:.2} ms, api -> db {:.2} ms",
        cache.wire_ms.p50, db.wire_ms.p50
    );
    assert!(
        (17.0..=23.0).contains(&rise),
        "api -> cache should be 20 ms slower: {rise:.2} ms"
    );
    assert!(db.calls > 50 && db.failed.is_empty(), "no recovery: {db:?}");
    let during = links_between(&sb.out(), 0.3, 1.6);
    let d = &during["api -> db"];
    eprintln!("swarm refused connection: {d:?}");
    let refused = d.failed.get("UNAVAILABLE").copied().unwrap_or(0);
    assert!(
        refused * 10 >= d.calls * 9,
        "refused at the connection: {d:?}"
    );
}

/// 1 mbit on api -> db paces the caller's writes: 64 KiB requests cross
/// at the link's rate (the bytes counted are the payload; on a stream
/// there are no frame headers to pace, so the rate is the payload's).
#[test]
fn a_bandwidth_caps_the_links_throughput_on_swarm() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sb = Sandbox::new();
    let yaml = "name: swarm-bandwidth\nservices:\n  api:\n    workers: 8\n    model: async\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n            timeout: 60s\n            request: 64KiB\n  db:\n    workers: 8\n    model: async\n    endpoints: { Q: {} }\nload:\n  users: { target: api/Get, clients: 4, duration: 10s, timeout: 60s }\nfaults:\n  - { at: 0s, link: api -> db, bandwidth: 1mbit }\n";
    let (s, _) = run_on_swarm(&sb, yaml);
    let calls = s["links"]["api -> db"]["calls"].as_u64().unwrap();
    let seconds = s["duration_s"].as_f64().unwrap();
    let mbit = calls as f64 * 65536.0 * 8.0 / seconds / 1e6;
    eprintln!("swarm 1mbit link: {calls} calls of 64 KiB in {seconds:.2} s = {mbit:.3} Mbit/s");
    assert!(
        (0.85..=1.05).contains(&mbit),
        "{calls} calls of 64 KiB in {seconds:.1} s is {mbit:.3} Mbit/s, not 1 within 10%"
    );
}

/// 5% loss both ways on api <-> db: a lost write holds the connection
/// for a loss probe (10 ms at least), or the retransmission timeout when
/// the probe is lost too, so the link's tail grows while its median and
/// api -> cache barely move, as on the wire; and the counts still add up
/// (`Sandbox::summary`).
#[test]
fn loss_stalls_the_link_and_the_counts_still_add_up_on_swarm() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sb = Sandbox::new();
    let yaml = "name: swarm-loss\nservices:\n  api:\n    workers: 32\n    model: async\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n            timeout: 2s\n          - call: cache/Q\n            timeout: 2s\n  db:\n    workers: 16\n    model: async\n    endpoints: { Q: { response: 16KiB } }\n  cache:\n    workers: 16\n    model: async\n    endpoints: { Q: { response: 16KiB } }\nload:\n  users: { target: api/Get, rate: 40/s, duration: 8s }\nfaults:\n  - { at: 0s, link: api <-> db, loss: 5% }\n";
    let (s, _) = run_on_swarm(&sb, yaml);
    let (db, cache) = (&s["links"]["api -> db"], &s["links"]["api -> cache"]);
    eprintln!("swarm 5% loss: api -> db {db}, api -> cache (no loss) {cache}");
    let ms = |l: &serde_json::Value, q: &str| l["wire_ms"][q].as_f64().unwrap();
    // About one call in five loses a write: its probe puts the p99 10 ms
    // or more above the median, which most calls, untouched, keep.
    assert!(
        ms(db, "p99") >= ms(db, "p50") + 10.0,
        "5% loss should show in the tail: api -> db {db}"
    );
    assert!(
        ms(db, "p50") < ms(cache, "p50") + 5.0,
        "most calls lose nothing: api -> db {db}, api -> cache {cache}"
    );
}

/// A link to one replica (`db#1`) hits the replica that calls itself
/// `db#1` (its task slot less one), whatever place DNS gives its address:
/// each replica is asked its index. Read per answering replica from the
/// spans: a CLIENT span less the SERVER span it caused.
#[test]
fn a_link_to_one_replica_hits_that_replica_only_on_swarm() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let _one = ONE_STACK.lock();
    let sb = Sandbox::new();
    let yaml = "name: swarm-replica-link\nservices:\n  api:\n    workers: 16\n    model: async\n    endpoints: { Get: { steps: [ { call: db/Q } ] } }\n  db:\n    replicas: 2\n    workers: 16\n    model: async\n    endpoints: { Q: {} }\nload:\n  users: { target: api/Get, rate: 40/s, duration: 6s }\nfaults:\n  - { at: 0s, link: api -> db#1, delay: 30ms }\n";
    let (s, _) = run_on_swarm(&sb, yaml);
    assert_eq!(s["faults"][0]["replicas"], serde_json::json!(["api#0"]));
    let mut wire: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for t in trace::load(&sb.out()).unwrap() {
        for c in t.spans.iter().filter(|s| s.kind == trace::Kind::Client) {
            let server = t.spans.iter().find(|s| {
                s.kind == trace::Kind::Server && s.parent_id.as_deref() == Some(&c.span_id)
            });
            if let Some(server) = server.filter(|s| s.service == "db") {
                let ms = (c.duration_ns() as f64 - server.duration_ns() as f64) / 1e6;
                wire.entry(server.process.clone()).or_default().push(ms);
            }
        }
    }
    let p50 = |r: &str| {
        let mut v = wire[r].clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (zero, one) = (p50("db#0"), p50("db#1"));
    eprintln!("swarm api -> db#1 30 ms: wire p50 to db#0 {zero:.2} ms, to db#1 {one:.2} ms");
    assert!(zero < 15.0, "db#0 is not on the link: {zero:.2} ms");
    assert!((one - zero - 30.0).abs() < 5.0, "db#1 is: {one:.2} ms");
}
