//! The topology as a graph in inline SVG: the load on the left, each service
//! a box in the column of its depth in the call graph, arrows for calls.
//! Services whose queue built up are tinted: red where the cascade started,
//! yellow where it spread.

use std::collections::BTreeMap;
use std::fmt::Write;

use topolab_model::Topology;

use super::page::escape;
use crate::cascade::Cascade;
use crate::graph::CallGraph;

const BOX_W: i64 = 190;
const BOX_H: i64 = 56;
const COL: i64 = 240;
const ROW: i64 = 80;
const PAD: i64 = 20;

/// The SVG text of `t`'s graph.
pub fn render(t: &Topology, cascade: &Cascade) -> String {
    let g = CallGraph::of(t);
    let depths = g.depths();
    let has_load = !t.load.is_empty();
    let shift = i64::from(has_load);
    let mut rows_in: BTreeMap<usize, i64> = BTreeMap::new();
    let mut pos: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for s in &g.order {
        let d = depths.get(s).copied().unwrap_or(0);
        let r = rows_in.entry(d).or_default();
        pos.insert(s, (PAD + (d as i64 + shift) * COL, PAD + *r * ROW));
        *r += 1;
    }
    let cols = depths.values().max().map_or(1, |d| d + 1) as i64 + shift;
    let rows = rows_in.values().copied().max().unwrap_or(1).max(1);
    let (w, h) = (
        2 * PAD + (cols - 1) * COL + BOX_W,
        2 * PAD + (rows - 1) * ROW + BOX_H,
    );

    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="topology graph"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>"##
    );
    let arrow = |out: &mut String, (x1, y1): (i64, i64), (x2, y2): (i64, i64)| {
        let _ = write!(
            out,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>"##,
            x1 + BOX_W,
            y1 + BOX_H / 2,
            x2 - 2,
            y2 + BOX_H / 2
        );
    };
    if has_load {
        let y = PAD + (rows - 1) * ROW / 2;
        let label: Vec<&str> = t.load.iter().map(|l| l.name.as_str()).collect();
        node(&mut out, (PAD, y), "load", &label.join(", "), "#eef");
        for e in &g.entries {
            if let Some(p) = pos.get(e.as_str()) {
                arrow(&mut out, (PAD, y), *p);
            }
        }
    }
    for (from, tos) in &g.callees {
        for to in tos {
            if let (Some(a), Some(b)) = (pos.get(from.as_str()), pos.get(to.as_str())) {
                arrow(&mut out, *a, *b);
            }
        }
    }
    for s in &t.services {
        let Some(p) = pos.get(s.name.as_str()) else {
            continue;
        };
        let onset = cascade.onsets.iter().find(|o| o.service == s.name);
        let fill = match onset {
            Some(o) if o.waiting_on.is_none() => "#f6c1c1",
            Some(_) => "#fbe6a6",
            None => "#fff",
        };
        let queue = s.queue.map_or("unbounded".into(), |q| q.to_string());
        let detail = format!(
            "{}×{} workers · queue {queue} · {}",
            s.replicas,
            s.workers,
            match s.model {
                topolab_model::ServeModel::Blocking => "blocking",
                topolab_model::ServeModel::Async => "async",
            }
        );
        node(&mut out, *p, &s.name, &detail, fill);
    }
    out.push_str("</svg>");
    out
}

fn node(out: &mut String, (x, y): (i64, i64), title: &str, detail: &str, fill: &str) {
    let _ = write!(
        out,
        r##"<g><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" stroke="#333"/><text x="{}" y="{}" text-anchor="middle" font-weight="bold" font-size="14">{}</text><text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#444">{}</text></g>"##,
        x + BOX_W / 2,
        y + 22,
        escape(title),
        x + BOX_W / 2,
        y + 42,
        escape(detail)
    );
}
