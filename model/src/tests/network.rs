//! The `network:` section and link faults: the contract's example read
//! back, each bad link fault refused at its place, and the warning for a
//! link no call crosses.

use std::time::Duration;

use super::errors_of;
use crate::load_str;
use crate::network::{LinkEnd, LinkShape};
use crate::{Dist, Topology};

/// web → api → {db, cache}, with two replicas of db, and a load on web.
fn with(extra: &str) -> String {
    format!(
        "name: t\nservices:\n  web:\n    endpoints: {{ Get: {{ steps: [ {{ call: api/Get }} ] }} }}\n\
         \x20 api:\n    endpoints: {{ Get: {{ steps: [ {{ call: db/Q }}, {{ call: cache/Q }} ] }} }}\n\
         \x20 db:\n    replicas: 2\n    endpoints: {{ Q: {{}} }}\n\
         \x20 cache:\n    endpoints: {{ Q: {{}} }}\n\
         load:\n  l: {{ target: web/Get, rate: 1/s, duration: 60s }}\n{extra}"
    )
}

fn ok(text: &str) -> (Topology, Vec<String>) {
    match load_str("t.yaml", text, &[]) {
        Ok(l) => (l.topology, l.warnings),
        Err(r) => panic!("refused:\n{}", r.errors.join("\n")),
    }
}

fn e(message: &str, at: &str) -> (String, String) {
    (format!("error: {message}"), format!("t.yaml:{at}"))
}

#[test]
fn the_contracts_example_reads_back() {
    let (t, warnings) = ok(&with(
        "network:\n  zones: { east: [web, api], west: [db] }\n  links:\n    east <-> west: { delay: 2ms, jitter: 0.5ms }\n    api -> cache: { bandwidth: 100mbit }\n\
         faults:\n  - { at: 10s, for: 10s, link: api -> db, delay: 50ms, jitter: 10ms }\n\
         \x20 - { at: 20s, for: 5s,  link: api <-> db, partition: true }\n\
         \x20 - { at: 30s, for: 10s, link: api -> db, loss: 5% }\n\
         \x20 - { at: 40s, for: 10s, link: \"* -> db\", bandwidth: 1mbit }\n\
         \x20 - { at: 50s, for: 5s,  link: api#0 -> db#1, delay: exp(20ms) }\n",
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    let n = &t.network;
    assert!(n.in_use());
    assert_eq!(n.zones["east"], ["web", "api"]);
    assert_eq!(n.links.len(), 2);
    assert_eq!(n.links[0].path(), "east <-> west");
    assert_eq!(n.links[0].from, LinkEnd::Zone("east".into()));
    assert_eq!(
        n.links[0].shape,
        LinkShape {
            delay: Some(Dist::Const(Duration::from_millis(2))),
            jitter: Some(Duration::from_micros(500)),
            ..Default::default()
        }
    );
    assert_eq!(n.links[1].shape.bandwidth, Some(100_000_000));
    assert_eq!(n.faults.len(), 5);
    assert!(t.faults.is_empty(), "link faults are not service faults");
    assert_eq!(n.faults[0].at, Duration::from_secs(10));
    assert_eq!(n.faults[0].link.path(), "api -> db");
    assert!(n.faults[1].link.both_ways && n.faults[1].link.shape.partition);
    assert_eq!(n.faults[2].link.shape.loss, Some(0.05));
    assert_eq!(n.faults[3].link.from, LinkEnd::Any);
    assert_eq!(n.faults[4].link.from, LinkEnd::Replica("api".into(), 0));
    assert_eq!(n.faults[4].link.to, LinkEnd::Replica("db".into(), 1));
}

#[test]
fn without_a_network_the_topology_stays_on_loopback() {
    let (t, _) = ok(&with(""));
    assert!(!t.network.in_use());
}

#[test]
fn each_bad_link_fault_is_located() {
    let text = with(
        "faults:\n\
         \x20 - { at: 1s, for: 1s, link: api -> dbb, delay: 50ms }\n\
         \x20 - { at: 1s, for: 1s, link: api -> db, loss: 150% }\n\
         \x20 - { at: 1s, for: 1s, link: api -> db, loss: -5% }\n\
         \x20 - { at: 1s, for: 1s, link: api -> db, bandwidth: 0mbit }\n\
         \x20 - { at: 1s, for: 1s, link: api -> db#2, delay: 1ms }\n\
         \x20 - { at: 1s, for: 1s, link: api db, delay: 1ms }\n\
         \x20 - { at: 1s, for: 1s, link: api -> db, target: db, delay: 1ms }\n\
         \x20 - { at: 1s, for: 1s, delay: 1ms }\n\
         \x20 - { at: 1s, for: 1s, link: api -> db }\n\
         \x20 - { at: 1s, for: 1s, link: api -> db, bandwidth: 1MB }\n",
    );
    let got = errors_of(&text);
    assert_eq!(
        got,
        vec![
            e("unknown service or zone `dbb` in link", "15:30"),
            e("invalid `loss`: `150%` is over 100%", "16:47"),
            e("invalid `loss`: `-5%` is negative", "17:47"),
            e("`bandwidth` must be above zero", "18:52"),
            e("`db` has 2 replica(s), so there is no `db#2`", "19:30"),
            e("invalid link `api db`: it has no `->` or `<->`", "20:30"),
            e("a link fault has no `target`", "21:41"),
            e(
                "`delay` shapes a link, but this fault has no `link`",
                "22:24"
            ),
            e("this link changes nothing", "23:5"),
            e("invalid `bandwidth`: unknown unit `MB` in `1MB`", "24:52"),
        ]
    );
    let report = load_str("t.yaml", &text, &[]).unwrap_err();
    assert!(
        report.errors[0].contains("did you mean `db`?"),
        "{}",
        report.errors[0]
    );
}

#[test]
fn bad_zones_and_standing_links_are_located() {
    let got = errors_of(&with(
        "network:\n  zones: { east: [web, apii], db: [cache] }\n  links:\n    east -> nowhere: { delay: 1ms }\n",
    ));
    assert_eq!(
        got,
        vec![
            e("unknown service `apii` in link", "15:24"),
            e("zone `db` has the name of a service", "15:31"),
            e("unknown service or zone `nowhere` in link", "17:5"),
        ]
    );
}

#[test]
fn a_link_no_call_crosses_is_a_warning_that_says_so() {
    let (_, warnings) = ok(&with(
        "faults:\n  - { at: 1s, for: 1s, link: db -> cache, delay: 5ms }\n  - { at: 1s, for: 1s, link: db <-> api, delay: 5ms }\n",
    ));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("no call crosses the link `db -> cache`"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("t.yaml:15:"), "{}", warnings[0]);
}
