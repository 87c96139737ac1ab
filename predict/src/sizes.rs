//! Payload sizes, which the simulator models only on a network's links (at
//! their bandwidth, `sim/src/links.rs`): off a link the hop cost is one
//! figure per call whatever `request` or `response` says (the hop probe
//! measures no cost per byte); only gRPC's 4 MiB limit on a request holds
//! everywhere (`topolab_rules::message`). A prediction names every size the topology
//! sets (in `summary.json` and on the terminal) rather than leaving it out
//! silently.

use std::fmt::Write as _;

use topolab_model::{Step, Topology};

/// The YAML path and value of every payload size the topology sets.
pub fn not_modelled(t: &Topology) -> Vec<String> {
    let mut out = Vec::new();
    for g in &t.load {
        if g.request > 0 {
            out.push(format!("load.{}.request ({} B)", g.name, g.request));
        }
    }
    for s in &t.services {
        for e in &s.endpoints {
            let at = format!("services.{}.endpoints.{}", s.name, e.name);
            if e.response > 0 {
                out.push(format!("{at}.response ({} B)", e.response));
            }
            calls(&e.steps, &at, &mut out);
        }
    }
    out
}

fn calls(steps: &[Step], at: &str, out: &mut Vec<String>) {
    for step in steps {
        match step {
            Step::Work(_) => {}
            Step::Call(c) if c.request > 0 => out.push(format!(
                "{at}.steps (call {}/{}).request ({} B)",
                c.service, c.endpoint, c.request
            )),
            Step::Call(_) => {}
            Step::Parallel(branches) => {
                for b in branches {
                    calls(b, at, out);
                }
            }
        }
    }
}

/// The warning a prediction prints: empty when no size is set.
pub fn render(fields: &[String]) -> String {
    let mut out = String::new();
    if fields.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "warning: payload sizes cost time only on a modelled network's links (at their bandwidth); on loopback every hop costs the same whatever its size, so these cost nothing in the prediction off a link (a request past 4 MiB is still refused OUT_OF_RANGE, as a replica refuses it): {}",
        fields.join(", ")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_is_named_by_its_path() {
        let t = topolab_model::load_str(
            "feed.yaml",
            &std::fs::read_to_string("../topologies/feed.yaml").unwrap(),
            &[],
        )
        .unwrap()
        .topology;
        let named = not_modelled(&t);
        assert!(named.contains(&"services.api.endpoints.Feed.response (4096 B)".to_string()));
        assert!(named.contains(&"services.db.endpoints.Query.response (512 B)".to_string()));
        assert_eq!(named.len(), 3, "{named:?}");
    }
}
