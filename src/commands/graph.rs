//! `topolab graph FILE`: the topology as a graph (Graphviz dot or Mermaid), so
//! a user can see who calls whom, and who is server and client, before a run.
//! Nodes are services; an edge is a call from one endpoint to another.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

use topolab_model::{Topology, calls};

use super::EXIT_INVALID;
use crate::cli::GraphFormat;
use crate::out::out;

/// Prints the graph of a valid topology; exit 1 with its errors otherwise.
pub fn graph(file: &Path, format: GraphFormat) -> ExitCode {
    match topolab_model::load(file, &[]) {
        Ok(loaded) => {
            let edges = edges(&loaded.topology);
            out!(
                "{}",
                match format {
                    GraphFormat::Dot => dot(&loaded.topology, &edges),
                    GraphFormat::Mermaid => mermaid(&loaded.topology, &edges),
                }
            );
            ExitCode::SUCCESS
        }
        Err(report) => {
            eprint!("{report}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// One call edge: (caller service, caller endpoint, callee service, callee endpoint).
type Edge = (String, String, String, String);

/// Every distinct call edge, as the model's one walker finds them (steps,
/// parallel branches and `session_miss`).
fn edges(t: &Topology) -> BTreeSet<Edge> {
    calls::of_topology(t)
        .into_iter()
        .map(|e| {
            (
                e.service.to_string(),
                e.endpoint.to_string(),
                e.call.service.clone(),
                e.call.endpoint.clone(),
            )
        })
        .collect()
}

fn dot(t: &Topology, edges: &BTreeSet<Edge>) -> String {
    let mut o = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box];\n",
        t.name
    );
    for s in &t.services {
        let eps: Vec<&str> = s.endpoints.iter().map(|e| e.name.as_str()).collect();
        let _ = writeln!(
            o,
            "  \"{}\" [label=\"{}\\n×{} replicas, {} workers\\n{}\"];",
            s.name,
            s.name,
            s.replicas,
            s.workers,
            eps.join(", ")
        );
    }
    for g in &t.load {
        let _ = writeln!(
            o,
            "  \"load:{}\" [shape=ellipse, label=\"{}\"];",
            g.name, g.name
        );
        let _ = writeln!(
            o,
            "  \"load:{}\" -> \"{}\" [label=\"{}\"];",
            g.name, g.target.service, g.target.endpoint
        );
    }
    for (fs, fe, ts, te) in edges {
        let _ = writeln!(o, "  \"{fs}\" -> \"{ts}\" [label=\"{fe} → {te}\"];");
    }
    o.push_str("}\n");
    o
}

fn mermaid(t: &Topology, edges: &BTreeSet<Edge>) -> String {
    let id = |s: &str| s.replace('-', "_");
    let mut o = String::from("flowchart LR\n");
    for s in &t.services {
        let _ = writeln!(o, "  {}[\"{} ×{}\"]", id(&s.name), s.name, s.replicas);
    }
    for g in &t.load {
        let _ = writeln!(
            o,
            "  load_{}([\"{}\"]) -->|{}| {}",
            id(&g.name),
            g.name,
            g.target.endpoint,
            id(&g.target.service)
        );
    }
    for (fs, fe, ts, te) in edges {
        let _ = writeln!(o, "  {} -->|{fe} → {te}| {}", id(fs), id(ts));
    }
    o
}
