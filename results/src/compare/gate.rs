//! `--fail-if` gates: `[SCOPE.]FIGURE OP VALUE`, evaluated on a
//! [`Comparison`]. SCOPE is `load.NAME`, `SERVICE/Endpoint`, `endpoints`
//! (every endpoint) or nothing (every generator); OP is `>`, `>=`, `<`, `<=`;
//! VALUE is a change from A (`+10%`), a share of B's requests (`1%`, for
//! counts), a difference (`+20ms`, `+5`) or B's own level (`250ms`, `5`).
//! A gate holds when its condition holds for any generator or endpoint in
//! its scope.

use super::{Comparison, Figures, Pair, total};

/// Which folder a figure is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// Why an expression cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--fail-if '{expr}': {why}")]
pub struct GateError {
    pub expr: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Scope {
    AllLoad,
    AllEndpoints,
    Load(String),
    Endpoint(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    /// `+10%`: (B − A) / A in percent.
    Change(f64),
    /// `1%`: B's count as a share of B's requests, in percent.
    Share(f64),
    /// `+20ms`, `+5`: B − A.
    Delta(f64),
    /// `250ms`, `5`: B.
    Level(f64),
}

/// A parsed gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub text: String,
    scope: Scope,
    figure: String,
    op: Op,
    value: Value,
}

/// What a gate found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    pub expr: String,
    pub held: bool,
    /// Where it held, with the value compared: `load.rush: p99 +14.2%`.
    pub hits: Vec<String>,
}

const COUNTS: &[&str] = &[
    "sent",
    "ok",
    "rejected",
    "timeouts",
    "errors",
    "failed",
    "requests",
    "deadline_dropped",
];
const TIMES: &[&str] = &[
    "mean",
    "p50",
    "p90",
    "p99",
    "p999",
    "max",
    "queue_p50",
    "queue_p99",
    "work_mean",
];

/// Parses one `--fail-if` expression.
pub fn parse(text: &str) -> Result<Gate, GateError> {
    let fail = |why: String| GateError {
        expr: text.to_string(),
        why,
    };
    let (at, op, len) = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)]
        .iter()
        .find_map(|(s, op)| text.find(s).map(|i| (i, *op, s.len())))
        .ok_or_else(|| fail("no comparison: write e.g. 'p99 > +10%'".into()))?;
    let lhs = text[..at].trim();
    let rhs = text[at + len..].trim();
    let (scope, figure) = match lhs.rsplit_once('.') {
        None => (Scope::AllLoad, lhs),
        Some(("endpoints", f)) => (Scope::AllEndpoints, f),
        Some((s, f)) if s.starts_with("load.") => (Scope::Load(s["load.".len()..].into()), f),
        Some((s, f)) if s.contains('/') => (Scope::Endpoint(s.into()), f),
        Some((s, _)) => {
            return Err(fail(format!(
                "unknown scope `{s}`: write load.NAME, SERVICE/Endpoint or endpoints"
            )));
        }
    };
    if !COUNTS.contains(&figure)
        && !TIMES.contains(&figure)
        && !["offered", "sent_rate", "throughput", "max_queue"].contains(&figure)
    {
        return Err(fail(format!(
            "unknown figure `{figure}`; figures: {}, {}, offered, sent_rate, throughput, max_queue",
            COUNTS.join(", "),
            TIMES.join(", ")
        )));
    }
    let signed = rhs.starts_with('+') || rhs.starts_with('-');
    let body = rhs.trim_start_matches(['+', '-']);
    let sign = if rhs.starts_with('-') { -1.0 } else { 1.0 };
    let number = |s: &str| {
        s.trim().parse::<f64>().map_err(|_| {
            fail(format!(
                "`{rhs}` is not a number, a percentage or a duration"
            ))
        })
    };
    let value = if let Some(p) = body.strip_suffix('%') {
        let v = number(p)?;
        if signed {
            Value::Change(sign * v)
        } else if COUNTS.contains(&figure) {
            Value::Share(v)
        } else {
            return Err(fail(format!(
                "`{rhs}` as a share applies to counts ({}); for `{figure}` write a change like +{v}%",
                COUNTS.join(", ")
            )));
        }
    } else if body.ends_with(|c: char| c.is_ascii_alphabetic()) {
        if !TIMES.contains(&figure) {
            return Err(fail(format!(
                "`{figure}` is not a time; compare it with a number or a percentage"
            )));
        }
        let d = topolab_model::values::duration(body)
            .map_err(|e| fail(format!("`{rhs}`: {}; expected {}", e.problem, e.expected)))?;
        let ms = sign * d.as_secs_f64() * 1e3;
        if signed {
            Value::Delta(ms)
        } else {
            Value::Level(ms)
        }
    } else {
        let v = sign * number(body)?;
        if signed {
            Value::Delta(v)
        } else {
            Value::Level(v)
        }
    };
    Ok(Gate {
        text: text.to_string(),
        scope,
        figure: figure.to_string(),
        op,
        value,
    })
}

/// Whether the gate holds anywhere in its scope; an error when its scope
/// names a generator or endpoint that neither folder has.
pub fn evaluate(g: &Gate, c: &Comparison) -> Result<Verdict, GateError> {
    let entries: Vec<(String, &Figures)> = match &g.scope {
        Scope::AllLoad => c
            .load
            .iter()
            .map(|(n, f)| (format!("load.{n}"), f))
            .collect(),
        Scope::AllEndpoints => c.endpoints.iter().map(|(n, f)| (n.clone(), f)).collect(),
        Scope::Load(n) => c
            .load
            .get(n)
            .map(|f| (format!("load.{n}"), f))
            .into_iter()
            .collect(),
        Scope::Endpoint(n) => c
            .endpoints
            .get(n)
            .map(|f| (n.clone(), f))
            .into_iter()
            .collect(),
    };
    if entries.is_empty() && matches!(g.scope, Scope::Load(_) | Scope::Endpoint(_)) {
        return Err(GateError {
            expr: g.text.clone(),
            why: "no such generator or endpoint in both folders".into(),
        });
    }
    let mut hits = Vec::new();
    for (name, figures) in entries {
        let Some(p) = figures.get(g.figure.as_str()) else {
            continue;
        };
        let (x, limit, shown) = lhs(g, figures, p);
        let held = match g.op {
            Op::Gt => x > limit,
            Op::Ge => x >= limit,
            Op::Lt => x < limit,
            Op::Le => x <= limit,
        };
        if held {
            hits.push(format!("{name}: {} {shown}", g.figure));
        }
    }
    Ok(Verdict {
        expr: g.text.clone(),
        held: !hits.is_empty(),
        hits,
    })
}

/// The value compared, the limit, and how to show the value.
fn lhs(g: &Gate, figures: &Figures, p: &Pair) -> (f64, f64, String) {
    match g.value {
        Value::Change(v) => {
            let x = match p.change_pct {
                Some(c) => c,
                None if p.b > 0.0 => f64::INFINITY,
                None => 0.0,
            };
            (x, v, format!("{x:+.1}% ({} -> {})", p.a, p.b))
        }
        Value::Share(v) => {
            let n = total(figures, Side::B);
            let x = if n > 0.0 { p.b / n * 100.0 } else { 0.0 };
            (x, v, format!("{x:.2}% of {n}"))
        }
        Value::Delta(v) => (p.diff, v, format!("{:+} ({} -> {})", p.diff, p.a, p.b)),
        Value::Level(v) => (p.b, v, format!("{}", p.b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_the_readme_shows() {
        let g = parse("p99 > +10%").unwrap();
        assert_eq!(
            (g.scope.clone(), g.op, g.value),
            (Scope::AllLoad, Op::Gt, Value::Change(10.0))
        );
        let g = parse("load.rush.rejected >= 1%").unwrap();
        assert_eq!(
            (g.scope, g.value),
            (Scope::Load("rush".into()), Value::Share(1.0))
        );
        let g = parse("api/Feed.p99 > 250ms").unwrap();
        assert_eq!(
            (g.scope, g.value),
            (Scope::Endpoint("api/Feed".into()), Value::Level(250.0))
        );
        assert_eq!(
            parse("endpoints.mean > +2ms").unwrap().value,
            Value::Delta(2.0)
        );
        assert_eq!(
            parse("throughput < -5%").unwrap().value,
            Value::Change(-5.0)
        );
    }

    #[test]
    fn refuses_what_it_cannot_mean() {
        assert!(parse("p99 +10%").is_err());
        assert!(parse("p42 > 1%").is_err());
        assert!(parse("p99 > 10%").is_err(), "a latency is no share");
        assert!(parse("rejected > 5ms").is_err());
        assert!(parse("db.p99 > +1%").is_err());
        assert!(parse("p99 > +ten%").is_err());
    }
}
