//! A balancer's relayed subscription is traced at the balancer as a
//! forwarded call is: the SERVER span of its client's stream (an event per
//! relayed version), under it the CLIENT span of the backend stream, and
//! under that the backend replica's SERVER span, one trace from end to end.

mod common;

use common::Sandbox;
use serde_json::Value;

/// Every span of `traces.jsonl` with the process that recorded it.
fn spans(folder: &std::path::Path) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(folder.join("traces.jsonl")).expect("traces.jsonl");
    let mut all = Vec::new();
    for line in text.lines() {
        let data: Value = serde_json::from_str(line).expect("OTLP/JSON");
        for rs in data["resourceSpans"].as_array().unwrap() {
            let process = rs["resource"]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "service.instance.id")
                .and_then(|a| a["value"]["stringValue"].as_str())
                .unwrap_or_default()
                .to_string();
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for sp in ss["spans"].as_array().unwrap() {
                    all.push((process.clone(), sp.clone()));
                }
            }
        }
    }
    all
}

fn subscribe(sp: &Value) -> bool {
    sp["attributes"].as_array().is_some_and(|a| {
        a.iter()
            .any(|kv| kv["key"] == "rpc.method" && kv["value"]["stringValue"] == "Subscribe")
    })
}

fn events(sp: &Value) -> usize {
    sp["events"].as_array().map_or(0, Vec::len)
}

#[test]
fn a_relayed_stream_is_two_spans_at_the_balancer() {
    let sb = Sandbox::new();
    let s = sb.run_yaml(
        "name: relayed\nservices:\n  scores:\n    updates: 300ms\n    model: async\n    endpoints:\n      Latest: { steps: [ {work: 1ms} ] }\n  lb:\n    kind: balancer\n    backend: scores\n    model: async\nload:\n  fans:\n    subscribe: lb/Latest\n    clients: 5\n    duration: 3s\nsettings:\n  seed: 4\n",
        &["--quiet"],
    );
    let all = spans(&sb.out());
    let child_of = |parent: &Value| -> Vec<&(String, Value)> {
        all.iter()
            .filter(|(_, sp)| sp["parentSpanId"] == parent["spanId"])
            .collect()
    };
    let relays: Vec<&(String, Value)> = all
        .iter()
        .filter(|(p, sp)| p == "lb#0" && sp["kind"] == 2 && subscribe(sp))
        .collect();
    assert_eq!(relays.len(), 5, "one SERVER span per relayed stream");
    let mut relayed = 0;
    for (_, server) in relays {
        assert_eq!(server["name"], "lb/Latest");
        let clients = child_of(server);
        assert_eq!(clients.len(), 1, "one CLIENT span under {server}");
        let (p, client) = clients[0];
        assert_eq!((p.as_str(), &client["kind"]), ("lb#0", &Value::from(3)));
        assert_eq!(client["name"], "scores/Latest");
        let backend = child_of(client);
        assert_eq!(backend.len(), 1, "the backend's span under {client}");
        let (p, backend) = backend[0];
        assert_eq!(
            (p.as_str(), &backend["kind"]),
            ("scores#0", &Value::from(2))
        );
        assert_eq!(server["traceId"], backend["traceId"]);
        // What the backend pushed, the balancer relayed (a push in flight
        // when the client let go may be the backend's last alone).
        let (pushed, passed) = (events(backend), events(server));
        assert!(
            passed <= pushed && pushed <= passed + 1 && passed >= 5,
            "{pushed} pushed, {passed} relayed"
        );
        relayed += passed as u64;
    }
    // The balancer holds no versions: its figures are the backend's.
    let pushed = s["services"]["scores"]["endpoints"]["Latest"]["updates"]["pushed"]
        .as_u64()
        .unwrap();
    assert!(
        relayed <= pushed && pushed <= relayed + 5,
        "an event per relayed version: {relayed} of {pushed} pushed"
    );
}
