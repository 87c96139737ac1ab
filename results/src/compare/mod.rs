//! Two run folders side by side (either may be a prediction): first what
//! differed between the runs ([`differences`]), then per load generator and
//! per endpoint, in the topology file's order, each figure of `summary.json`
//! in A and in B with its unit and the difference; [`gate`] evaluates
//! `--fail-if` expressions on them.

pub mod differences;
pub mod gate;

use std::path::Path;

use indexmap::IndexMap;
use serde::Serialize;

pub use differences::Difference;

use crate::summary::{self, Percentiles, Summary, SummaryError};

/// One figure in both folders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    pub a: f64,
    pub b: f64,
    /// b − a.
    pub diff: f64,
    /// (b − a) / a in percent; absent when a is 0.
    pub change_pct: Option<f64>,
}

impl Pair {
    fn new(a: f64, b: f64) -> Pair {
        let diff = summary::round3(b - a);
        let change_pct = (a != 0.0).then(|| summary::round3((b - a) / a * 100.0));
        Pair {
            a,
            b,
            diff,
            change_pct,
        }
    }
}

/// The figures of one generator or endpoint, by name, in the order the
/// terminal's tables give them (counts, rates, then latency).
pub type Figures = IndexMap<&'static str, Pair>;

/// Both folders' figures: `load` by generator, `endpoints` by
/// `service/Endpoint`, each in A's topology file order.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    /// Which side is a prediction.
    pub a_predicted: bool,
    pub b_predicted: bool,
    /// What differed between the runs' topologies as they ran (their
    /// `--set`s included); empty when they were the same.
    pub differences: Vec<Difference>,
    pub load: IndexMap<String, Figures>,
    pub endpoints: IndexMap<String, Figures>,
    /// Generators or endpoints present in only one folder.
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
}

/// Reads both folders' `summary.json` and pairs their figures.
pub fn compare(a: &Path, b: &Path) -> Result<Comparison, SummaryError> {
    let sa = summary::read(&a.join(summary::FILE))?;
    let sb = summary::read(&b.join(summary::FILE))?;
    let mut c = pair(&sa, &sb, &a.display().to_string(), &b.display().to_string());
    c.differences = differences::between(a, b);
    Ok(c)
}

/// Pairs two summaries' figures.
pub fn pair(sa: &Summary, sb: &Summary, a: &str, b: &str) -> Comparison {
    let la = load_figures(sa);
    let lb = load_figures(sb);
    let ea = endpoint_figures(sa);
    let eb = endpoint_figures(sb);
    let mut only_in_a = Vec::new();
    let mut only_in_b = Vec::new();
    let load = join(&la, &lb, "load.", &mut only_in_a, &mut only_in_b);
    let endpoints = join(&ea, &eb, "", &mut only_in_a, &mut only_in_b);
    Comparison {
        a: a.to_string(),
        b: b.to_string(),
        a_predicted: sa.prediction.is_some(),
        b_predicted: sb.prediction.is_some(),
        differences: Vec::new(),
        load,
        endpoints,
        only_in_a,
        only_in_b,
    }
}

type Raw = IndexMap<String, Vec<(&'static str, f64)>>;

fn join(
    a: &Raw,
    b: &Raw,
    prefix: &str,
    only_a: &mut Vec<String>,
    only_b: &mut Vec<String>,
) -> IndexMap<String, Figures> {
    let mut out = IndexMap::new();
    for (name, fa) in a {
        let Some(fb) = b.get(name) else {
            only_a.push(format!("{prefix}{name}"));
            continue;
        };
        let figures = fa
            .iter()
            .zip(fb)
            .map(|((k, x), (_, y))| (*k, Pair::new(*x, *y)))
            .collect();
        out.insert(name.clone(), figures);
    }
    only_b.extend(
        b.keys()
            .filter(|k| !a.contains_key(*k))
            .map(|k| format!("{prefix}{k}")),
    );
    out
}

fn latency(out: &mut Vec<(&'static str, f64)>, p: &Percentiles) {
    out.extend([
        ("mean", p.mean),
        ("p50", p.p50),
        ("p90", p.p90),
        ("p99", p.p99),
        ("p999", p.p999),
        ("max", p.max),
    ]);
}

fn load_figures(s: &Summary) -> Raw {
    s.load
        .iter()
        .map(|(name, l)| {
            let errors: u64 = l.errors.values().sum();
            let mut f = vec![
                ("sent", l.sent as f64),
                ("ok", l.ok as f64),
                ("rejected", l.rejected as f64),
                ("timeouts", l.timeouts as f64),
                ("errors", errors as f64),
                ("failed", l.failed() as f64),
                ("offered", l.offered_rate),
                // What was sent, beside what was asked: OK/s never exceeds it.
                ("sent_rate", l.sent_rate),
                ("throughput", l.throughput),
            ];
            latency(&mut f, &l.latency_ms);
            if let Some(u) = &l.updates {
                f.extend([
                    ("stale_mean", u.staleness_ms.mean),
                    ("stale_p50", u.staleness_ms.p50),
                    ("stale_p99", u.staleness_ms.p99),
                    ("versions_seen", u.versions_seen as f64),
                    ("versions_missed", u.versions_missed as f64),
                    ("reconnects", u.reconnects as f64),
                ]);
            }
            (name.clone(), f)
        })
        .collect()
}

fn endpoint_figures(s: &Summary) -> Raw {
    let mut out = Raw::new();
    for (service, svc) in &s.services {
        for (ep, e) in &svc.endpoints {
            let errors: u64 = e.errors.values().sum();
            let mut f = vec![
                ("requests", e.requests as f64),
                ("ok", e.ok as f64),
                ("rejected", e.rejected as f64),
                ("errors", errors as f64),
                ("failed", (e.rejected + errors) as f64),
                ("deadline_dropped", e.deadline_dropped as f64),
                ("max_queue", e.max_queue as f64),
            ];
            latency(&mut f, &e.latency_ms);
            f.extend([
                ("queue_p50", e.queue_wait_ms.p50),
                ("queue_p99", e.queue_wait_ms.p99),
                ("work_mean", e.work_ms.mean),
            ]);
            if let Some(u) = &e.updates {
                f.extend([
                    ("requests_per_s", u.requests_per_s),
                    ("long_polls", u.long_polls as f64),
                    ("max_held", u.max_held as f64),
                    ("streams_opened", u.streams_opened as f64),
                    ("max_streams", u.max_streams as f64),
                    ("pushed", u.pushed as f64),
                ]);
            }
            out.insert(format!("{service}/{ep}"), f);
        }
    }
    out
}

/// The figures whose denominators make a share: requests sent (a
/// generator) or arrived (an endpoint).
pub(crate) fn total(figures: &Figures, side: gate::Side) -> f64 {
    let pick = |p: &Pair| match side {
        gate::Side::A => p.a,
        gate::Side::B => p.b,
    };
    figures
        .get("sent")
        .or_else(|| figures.get("requests"))
        .map_or(0.0, pick)
}

/// The comparison as aligned text: per generator and endpoint, each figure
/// in A and B with the difference.
pub fn render(c: &Comparison) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let tag = |p: bool| if p { " (prediction)" } else { "" };
    let _ = writeln!(out, "A: {}{}", c.a, tag(c.a_predicted));
    let _ = writeln!(out, "B: {}{}", c.b, tag(c.b_predicted));
    if c.differences.is_empty() {
        let _ = writeln!(out, "\nthe same topology and settings");
    } else {
        let _ = writeln!(out, "\nwhat differed between the runs");
        let width = c
            .differences
            .iter()
            .map(|d| d.path.len())
            .max()
            .unwrap_or(0);
        let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        for d in &c.differences {
            let _ = writeln!(
                out,
                "  {:<width$}  A: {}  B: {}",
                d.path,
                none(&d.a),
                none(&d.b)
            );
        }
    }
    let sections = [("load", &c.load), ("endpoint", &c.endpoints)];
    for (kind, map) in sections {
        for (name, figures) in map {
            let _ = writeln!(out, "\n{kind} {name}");
            let _ = writeln!(
                out,
                "  {:<17}{:>14}{:>14}{:>14}{:>10}",
                "figure", "A", "B", "B - A", "change"
            );
            for (k, p) in figures {
                let k = with_unit(k);
                let change = p
                    .change_pct
                    .map_or_else(|| "-".to_string(), |c| format!("{c:+.1}%"));
                let _ = writeln!(
                    out,
                    "  {k:<17}{:>14}{:>14}{:>14}{change:>10}",
                    num(p.a),
                    num(p.b),
                    signed(p.diff)
                );
            }
        }
    }
    for name in &c.only_in_a {
        let _ = writeln!(out, "\nonly in A: {name}");
    }
    for name in &c.only_in_b {
        let _ = writeln!(out, "\nonly in B: {name}");
    }
    out
}

/// A figure's name with its unit, as the terminal's tables write it.
fn with_unit(figure: &str) -> String {
    match figure {
        "offered" | "throughput" => format!("{figure}/s"),
        "sent_rate" => "sent/s".into(),
        "mean" | "p50" | "p90" | "p99" | "p999" | "max" | "queue_p50" | "queue_p99"
        | "work_mean" | "stale_mean" | "stale_p50" | "stale_p99" => format!("{figure} ms"),
        "requests_per_s" => "requests/s".into(),
        _ => figure.to_string(),
    }
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

fn signed(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:+.0}")
    } else {
        format!("{x:+.3}")
    }
}
