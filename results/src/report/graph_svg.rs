//! The topology as a graph in inline SVG: each load generator a box of its
//! own colour on the left, each service a box in the column of its depth in
//! the call graph, an arrow per call (a `session_miss` call dashed and
//! labelled). Boxes are as wide as their text. Services whose queue built up
//! are tinted: red where the cascade started, yellow where it spread.

use std::collections::BTreeMap;

use maud::{Markup, html};
use topolab_model::calls::{self, CallSite};
use topolab_model::{Balance, Kind, ServeModel, Topology};

use super::charts::{css, generator_colour};
use crate::cascade::Cascade;
use crate::graph::CallGraph;

const BOX_H: f64 = 52.0;
const GAP_X: f64 = 96.0;
const ROW: f64 = 74.0;
const PAD: f64 = 16.0;

/// Width of `text` in pixels at `size`, generously, so it fits its box.
fn text_w(text: &str, size: f64, bold: bool) -> f64 {
    text.chars().count() as f64 * size * if bold { 0.64 } else { 0.58 }
}

struct Node {
    id: String,
    title: String,
    detail: String,
    fill: String,
    stroke: String,
    col: usize,
}

/// One arrow between two nodes.
struct Edge {
    from: String,
    to: String,
    kind: &'static str,
    label: Option<&'static str>,
}

/// A balancing policy as the file writes it.
fn balance_name(b: Balance) -> &'static str {
    match b {
        Balance::RoundRobin => "round_robin",
        Balance::Random => "random",
        Balance::LeastRequests => "least_requests",
        Balance::P2c => "p2c",
        Balance::Sticky => "sticky",
    }
}

/// The graph of `t`, services tinted by `cascade`.
pub fn render(t: &Topology, cascade: &Cascade) -> Markup {
    let g = CallGraph::of(t);
    let depths = g.depths();
    let shift = usize::from(!t.load.is_empty());
    let mut nodes: Vec<Node> = Vec::new();
    for (i, l) in t.load.iter().enumerate() {
        let targets: Vec<String> = if l.mix.len() <= 1 {
            vec![l.target.to_string()]
        } else {
            l.mix
                .iter()
                .map(|w| format!("{} {:.0}%", w.target, w.share * 100.0))
                .collect()
        };
        nodes.push(Node {
            id: format!("load:{}", l.name),
            title: l.name.clone(),
            detail: targets.join(", "),
            fill: format!("{}22", css(generator_colour(i))),
            stroke: css(generator_colour(i)),
            col: 0,
        });
    }
    for s in &t.services {
        let onset = cascade.onsets.iter().find(|o| o.service == s.name);
        let fill = match onset {
            Some(o) if o.waiting_on.is_none() => "#f6c1c1",
            Some(_) => "#fbe6a6",
            None => "#ffffff",
        };
        let model = match s.model {
            ServeModel::Blocking => "blocking",
            ServeModel::Async => "async",
        };
        let queue = s.queue.map_or("unbounded".into(), |q| q.to_string());
        let detail = match &s.kind {
            Kind::Balancer { backend, policy } => {
                format!("balancer · {} to {backend}", balance_name(*policy))
            }
            Kind::Service => {
                format!(
                    "{}×{} workers · queue {queue} · {model}",
                    s.replicas, s.workers
                )
            }
        };
        nodes.push(Node {
            id: s.name.clone(),
            title: s.name.clone(),
            detail,
            fill: fill.into(),
            stroke: "#333".into(),
            col: depths.get(&s.name).copied().unwrap_or(0) + shift,
        });
    }
    let mut edges: Vec<Edge> = Vec::new();
    for l in &t.load {
        let mut to: Vec<&str> = vec![&l.target.service];
        to.extend(l.mix.iter().map(|w| w.target.service.as_str()));
        to.dedup();
        for s in to {
            if !edges
                .iter()
                .any(|e| e.from == format!("load:{}", l.name) && e.to == s)
            {
                edges.push(Edge {
                    from: format!("load:{}", l.name),
                    to: s.to_string(),
                    kind: "load",
                    label: None,
                });
            }
        }
    }
    for e in calls::of_topology(t) {
        let (kind, label) = match e.site {
            CallSite::Steps => ("call", None),
            CallSite::SessionMiss => ("session_miss", Some("session miss")),
        };
        let dup = edges
            .iter()
            .any(|x| x.from == e.service && x.to == e.call.service && x.kind == kind);
        if !dup {
            edges.push(Edge {
                from: e.service.to_string(),
                to: e.call.service.clone(),
                kind,
                label,
            });
        }
    }

    // Columns as wide as their widest box; rows centred on the tallest column.
    let cols = nodes.iter().map(|n| n.col + 1).max().unwrap_or(1);
    let mut col_w = vec![120.0f64; cols];
    let mut col_n = vec![0usize; cols];
    for n in &nodes {
        let w = text_w(&n.title, 14.0, true).max(text_w(&n.detail, 11.0, false)) + 24.0;
        col_w[n.col] = col_w[n.col].max(w);
        col_n[n.col] += 1;
    }
    let rows = col_n.iter().copied().max().unwrap_or(1).max(1);
    let mut col_x = vec![PAD; cols];
    for c in 1..cols {
        col_x[c] = col_x[c - 1] + col_w[c - 1] + GAP_X;
    }
    let mut seen = vec![0usize; cols];
    let mut pos: BTreeMap<String, (f64, f64, f64)> = BTreeMap::new();
    for n in &nodes {
        let offset = (rows - col_n[n.col]) as f64 * ROW / 2.0;
        let y = PAD + offset + seen[n.col] as f64 * ROW;
        seen[n.col] += 1;
        pos.insert(n.id.clone(), (col_x[n.col], y, col_w[n.col]));
    }
    let w = col_x[cols - 1] + col_w[cols - 1] + PAD;
    let h = 2.0 * PAD + (rows - 1) as f64 * ROW + BOX_H + 14.0;

    html! {
        svg.graph xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) viewBox={ "0 0 " (w) " " (h) } role="img" aria-label="topology graph" font-family="system-ui, sans-serif" {
            defs {
                marker #arrow viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse" {
                    path d="M 0 0 L 10 5 L 0 10 z" fill="#555" {}
                }
            }
            @for e in &edges {
                @if let (Some(a), Some(b)) = (pos.get(&e.from), pos.get(&e.to)) {
                    @let (x1, y1) = (a.0 + a.2, a.1 + BOX_H / 2.0);
                    @let (x2, y2) = (b.0 - 2.0, b.1 + BOX_H / 2.0);
                    @let forward = x2 > x1;
                    @let d = if forward {
                        format!("M {x1:.1} {y1:.1} L {x2:.1} {y2:.1}")
                    } else {
                        // A call back to the left: around, below the boxes.
                        let low = a.1.max(b.1) + BOX_H + 10.0;
                        format!("M {:.1} {:.1} C {:.1} {low:.1}, {:.1} {low:.1}, {:.1} {:.1}", a.0 + a.2 / 2.0, a.1 + BOX_H, a.0 + a.2 / 2.0, b.0 + b.2 / 2.0, b.0 + b.2 / 2.0, b.1 + BOX_H)
                    };
                    g.edge data-from=(e.from) data-to=(e.to) data-kind=(e.kind) {
                        path d=(d) fill="none" stroke="#555" stroke-width="1.5" stroke-dasharray=[(e.kind == "session_miss").then_some("6 4")] marker-end="url(#arrow)" {}
                        @if let Some(label) = e.label {
                            text x=(format!("{:.1}", (x1 + x2) / 2.0)) y=(format!("{:.1}", (y1 + y2) / 2.0 - 6.0)) text-anchor="middle" font-size="11" fill="#555" { (label) }
                        }
                    }
                }
            }
            @for n in &nodes {
                @if let Some((x, y, bw)) = pos.get(&n.id) {
                    g.node data-id=(n.id) {
                        rect x=(x) y=(y) width=(bw) height=(BOX_H) rx="8" fill=(n.fill) stroke=(n.stroke) stroke-width="1.5" {}
                        text x=(x + bw / 2.0) y=(y + 21.0) text-anchor="middle" font-weight="bold" font-size="14" { (n.title) }
                        text x=(x + bw / 2.0) y=(y + 39.0) text-anchor="middle" font-size="11" fill="#444" { (n.detail) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticky_sessions_draws_the_session_miss_edges() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../topologies/sticky-sessions.yaml");
        let t = topolab_model::load(&path, &[]).unwrap().topology;
        let svg = render(&t, &Cascade::default()).into_string();
        assert!(
            svg.contains(r#"data-from="cart" data-to="db" data-kind="session_miss""#),
            "{svg}"
        );
        assert!(svg.contains(r#"data-from="cart-s" data-to="db-s" data-kind="session_miss""#));
        assert!(svg.contains(r#"data-from="load:round-robin" data-to="rr""#));
        assert!(svg.contains("session miss"));
    }
}
