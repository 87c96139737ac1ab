//! The inferred topology written in the topology format, every value with
//! a comment saying how it was inferred and from how many samples. The
//! model's own emitter keeps no comments, so this is the one place that
//! writes an imported topology; what it writes is validated by the model
//! before anyone sees it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use topolab_model::StatusCode;

use crate::fit::{self, duration};
use crate::infer::{Accumulator, EndpointAcc, ServiceAcc};
use crate::rate::Load;
use crate::shape::{Obs, Slot};

/// A call made in fewer than this share of an endpoint's requests (and
/// fewer than [`RARE_MIN`] times) is left out as noise.
pub const RARE_SHARE: f64 = 0.005;
const RARE_MIN: u64 = 3;
/// A call made in at least this share of requests is written as always made.
const ALWAYS: f64 = 0.995;
/// Workers written per request seen in service at once, when no queue
/// showed the pool full.
const HEADROOM: u32 = 2;
/// The column comments start at.
const COMMENT_AT: usize = 44;

/// What was written, for the summary.
#[derive(Debug, Default, Clone)]
pub struct Written {
    pub services: usize,
    pub untraced: Vec<String>,
    pub endpoints: usize,
    pub calls: usize,
    pub generators: usize,
    pub rare_calls: u64,
    /// Call steps that found no slot (an endpoint with more than
    /// `shape::MAX_SLOTS` distinct steps).
    pub overflow: u64,
    pub unfitted: Vec<String>,
}

/// YAML lines with comments aligned.
#[derive(Default)]
struct Lines {
    text: String,
}

impl Lines {
    fn line(&mut self, indent: usize, body: &str, comment: &str) {
        let mut l = format!("{}{}", " ".repeat(indent), body);
        if !comment.is_empty() {
            let pad = COMMENT_AT.saturating_sub(l.len()).max(1);
            let _ = write!(l, "{}# {}", " ".repeat(pad), comment);
        }
        self.text.push_str(l.trim_end());
        self.text.push('\n');
    }

    fn comment(&mut self, indent: usize, text: &str) {
        self.line(indent, &format!("# {text}"), "");
    }
}

/// The topology `name` from `acc`; `sources` says what it was read from.
pub fn emit(acc: &Accumulator, name: &str, sources: &str) -> (String, Written) {
    let mut y = Lines::default();
    let mut w = Written::default();
    y.comment(0, &format!("Imported by `topolab import` from {sources}:"));
    y.comment(
        0,
        &format!(
            "{} spans in {} traces. Each value's comment says how it was inferred",
            acc.spans, acc.traces
        ),
    );
    y.comment(0, "and from how many samples; the rules: docs/import.md.");
    y.line(0, &format!("name: {name}"), "");
    y.line(
        0,
        &format!(
            "description: Inferred from {} traces of {} services.",
            acc.traces,
            acc.services.len()
        ),
        "",
    );
    y.line(0, "services:", "");
    for (svc_name, svc) in &acc.services {
        service(&mut y, &mut w, svc_name, svc, false);
    }
    for (svc_name, svc) in &acc.untraced {
        if !acc.services.contains_key(svc_name) {
            service(&mut y, &mut w, svc_name, svc, true);
            w.untraced.push(svc_name.clone());
        }
    }
    if !acc.generators.is_empty() {
        y.line(0, "load:", "");
        let t0 = acc
            .generators
            .values()
            .map(|g| g.arrivals.first)
            .min()
            .unwrap_or(0);
        for (g_name, g) in &acc.generators {
            let Some(load) = g.arrivals.load() else {
                continue;
            };
            w.generators += 1;
            generator(&mut y, g_name, g, &load, g.arrivals.first - t0);
        }
    }
    if !acc.links.is_empty() {
        y.comment(
            0,
            "Wire time per link (CLIENT span less the SERVER span that answered it):",
        );
        y.comment(0, "a standing link delay once the network is modelled.");
        for ((caller, callee), l) in &acc.links {
            y.comment(
                2,
                &format!(
                    "{caller} -> {callee}: p50 {}, p99 {} over {} calls",
                    duration(l.wire.value_at_quantile(0.5) as f64),
                    duration(l.wire.value_at_quantile(0.99) as f64),
                    l.calls
                ),
            );
        }
    }
    (y.text, w)
}

fn service(y: &mut Lines, w: &mut Written, name: &str, svc: &ServiceAcc, untraced: bool) {
    w.services += 1;
    let requests: u64 = svc.endpoints.values().map(|e| e.requests).sum();
    let what = if untraced {
        format!("untraced: seen only in {requests} CLIENT spans of its callers")
    } else {
        format!("{requests} server spans")
    };
    y.line(2, &format!("{name}:"), &what);
    let replicas = if untraced {
        1
    } else {
        svc.instances.len().max(1)
    };
    let listed: Vec<&str> = svc.instances.keys().take(4).map(String::as_str).collect();
    let more = svc.instances.len().saturating_sub(4) as u64 + svc.more_instances;
    let replicas_why = if untraced {
        "untraced: one stands for all".to_string()
    } else if more > 0 {
        format!("instances seen: {} and {more} more", listed.join(", "))
    } else {
        format!("instances seen: {}", listed.join(", "))
    };
    y.line(4, &format!("replicas: {replicas}"), &replicas_why);
    let bound = svc.workers.max(1);
    // A few waits are a stalled machine; one in a hundred is a full pool.
    let (workers, why) = if svc.waited * 100 >= requests.max(1) {
        (
            bound,
            format!(
                "at most {bound} in service at once on one instance, and {} of {requests} requests waited over 1ms in a queue: the pool was full at times, so this is likely its size",
                svc.waited
            ),
        )
    } else {
        (
            HEADROOM * bound,
            format!(
                "at least {bound} (the most in service at once on one instance), and no queue showed the pool full: {HEADROOM}x that, so as not to invent a limit the traces never showed; set the real size if you know it"
            ),
        )
    };
    y.line(4, &format!("workers: {workers}"), &why);
    y.line(4, "endpoints:", "");
    for (ep_name, ep) in &svc.endpoints {
        w.endpoints += 1;
        endpoint(y, w, &format!("{name}/{ep_name}"), ep_name, ep);
    }
}

fn endpoint(y: &mut Lines, w: &mut Written, full: &str, name: &str, ep: &EndpointAcc) {
    y.line(6, &format!("{name}:"), &format!("{} requests", ep.requests));
    y.line(8, "steps:", "");
    if let Some(f) = fit::fit(&ep.self_time) {
        if !f.fits() {
            w.unfitted.push(full.to_string());
        }
        let mut why = f.comment();
        if ep.work_attr > 0 {
            why = format!(
                "{why}; from topolab.work_ns in {} spans: the rest of their self time is the sandbox's own cost, which a run adds again",
                ep.work_attr
            );
        }
        y.line(10, &format!("- work: {}", f.dist.to_yaml()), &why);
    }
    let n = ep.template.requests.max(1);
    w.overflow += ep.template.overflow;
    for slot in &ep.template.slots {
        let share = slot.seen as f64 / n as f64;
        if share < RARE_SHARE && slot.seen < RARE_MIN {
            w.rare_calls += slot.seen;
            continue;
        }
        w.calls += calls_in(&slot.example);
        step(y, slot, share, n);
    }
    let own: u64 = ep.own_errors.values().sum();
    if let Some((&code, &count)) = ep.own_errors.iter().max_by_key(|(_, c)| **c) {
        let rate = own as f64 / ep.requests.max(1) as f64 * 100.0;
        let others: Vec<String> = ep
            .own_errors
            .iter()
            .filter(|(c, _)| **c != code)
            .map(|(c, n)| format!("{n} {}", code_name(*c)))
            .collect();
        let also = if others.is_empty() {
            String::new()
        } else {
            format!("; written as one code, also seen: {}", others.join(", "))
        };
        y.line(
            8,
            &format!("errors: {} {}", percent(rate), code_name(code)),
            &format!(
                "{own} of {} requests failed on their own ({count} with {}){also}",
                ep.requests,
                code_name(code)
            ),
        );
    }
    if !ep.load_errors.is_empty() {
        let seen: Vec<String> = ep
            .load_errors
            .iter()
            .map(|(c, n)| format!("{n} {}", code_name(*c)))
            .collect();
        y.comment(
            8,
            &format!(
                "not injected: {} (what load does, not what the service answers)",
                seen.join(", ")
            ),
        );
    }
}

fn calls_in(o: &Obs) -> usize {
    match o {
        Obs::Call { .. } => 1,
        Obs::Parallel(b) => b.iter().flatten().map(calls_in).sum(),
    }
}

/// One slot as a step.
fn step(y: &mut Lines, slot: &Slot, share: f64, n: u64) {
    let seen = format!("made in {} of {n} requests", slot.seen);
    match &slot.example {
        Obs::Call { target, .. } => {
            y.line(10, &format!("- call: {target}"), &seen);
            if share < ALWAYS {
                y.line(12, &format!("probability: {}", percent(share * 100.0)), "");
            }
            times(y, &slot.times);
        }
        Obs::Parallel(branches) => {
            let note = if share < ALWAYS {
                format!("{seen}: each call below made with that probability")
            } else {
                seen
            };
            y.line(10, "- parallel:", &note);
            for b in branches {
                for (i, s) in b.iter().enumerate() {
                    let Obs::Call { target, times: t } = s else {
                        continue;
                    };
                    let lead = match (b.len() > 1, i) {
                        (false, _) => "- ",
                        (true, 0) => "- - ",
                        (true, _) => "  - ",
                    };
                    let indent = if b.len() > 1 { 18 } else { 16 };
                    y.line(14, &format!("{lead}call: {target}"), "");
                    if share < ALWAYS {
                        y.line(
                            indent,
                            &format!("probability: {}", percent(share * 100.0)),
                            "",
                        );
                    }
                    if *t > 1 {
                        y.line(indent, &format!("times: {t}"), "as first seen");
                    }
                }
            }
        }
    }
}

/// `times:` from how many times in a row the call was made.
fn times(y: &mut Lines, seen: &BTreeMap<u32, u64>) {
    let total: u64 = seen.values().sum();
    if total == 0 {
        return;
    }
    let mean = seen.iter().map(|(t, n)| u64::from(*t) * n).sum::<u64>() as f64 / total as f64;
    let t = mean.round().max(1.0) as u32;
    if seen.len() == 1 && t == 1 {
        return;
    }
    let why = if seen.len() == 1 {
        format!("{t} times in a row in each of {total} requests")
    } else {
        let spread: Vec<String> = seen.iter().map(|(t, n)| format!("{t}x in {n}")).collect();
        format!("the mean of {}", spread.join(", "))
    };
    y.line(12, &format!("times: {t}"), &why);
}

fn generator(y: &mut Lines, name: &str, g: &crate::infer::GeneratorAcc, load: &Load, start: u64) {
    let n = g.arrivals.n;
    y.line(
        2,
        &format!("{name}:"),
        &format!("{n} requests arrived from outside"),
    );
    let total: u64 = g.targets.values().sum();
    if g.targets.len() == 1 {
        let t = g.targets.keys().next().expect("one target");
        y.line(4, &format!("target: {t}"), "");
    } else {
        y.line(4, "mix:", "");
        for (t, c) in &g.targets {
            let share = *c as f64 / total as f64 * 100.0;
            y.line(
                6,
                &format!("{t}: {}", percent(share)),
                &format!("{c} of {total}"),
            );
        }
    }
    let arrivals = if load.poisson { "poisson" } else { "constant" };
    let why = format!(
        "variance/mean of arrivals per {} window: {:.2} ({} windows; under {} is constant)",
        secs(load.window_ns),
        load.dispersion,
        load.windows,
        crate::rate::CONSTANT_DISPERSION
    );
    if load.stages.len() == 1 {
        let s = &load.stages[0];
        y.line(
            4,
            &format!("rate: {}", rate(s.rate)),
            &format!("{n} arrivals over {}", secs(s.duration_ns)),
        );
        y.line(4, &format!("arrivals: {arrivals}"), &why);
        y.line(
            4,
            &format!("duration: {}", secs(s.duration_ns)),
            "first to last arrival",
        );
    } else {
        y.line(4, &format!("arrivals: {arrivals}"), &why);
        y.line(
            4,
            "stages:",
            &format!("the rate changed {} times", load.stages.len() - 1),
        );
        for s in &load.stages {
            y.line(
                6,
                &format!("- rate: {}", rate(s.rate)),
                &format!("{} arrivals", s.arrivals),
            );
            y.line(8, &format!("for: {}", secs(s.duration_ns)), "");
        }
    }
    if start > 0 {
        y.line(
            4,
            &format!("start: {}", secs(start)),
            "its first arrival after the first generator's",
        );
    }
}

fn code_name(code: i64) -> &'static str {
    i32::try_from(code).map_or("UNKNOWN", |c| StatusCode(c).name())
}

/// A percentage with up to three significant decimals.
fn percent(p: f64) -> String {
    let s = if p >= 10.0 {
        format!("{p:.1}")
    } else {
        format!("{p:.3}")
    };
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

fn rate(r: f64) -> String {
    let s = format!("{r:.3}");
    format!("{}/s", s.trim_end_matches('0').trim_end_matches('.'))
}

/// A duration of load in seconds (µs precision).
fn secs(ns: u64) -> String {
    if ns < 1_000_000_000 {
        return duration(ns as f64);
    }
    let s = format!("{:.3}", ns as f64 / 1e9);
    format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
}
