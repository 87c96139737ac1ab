//! One check per row of the table: what in a run's figures shows that the
//! feature was exercised, read from the composite topologies under
//! `tests/topologies/engines-*.yaml` (each check names the parts of them it
//! reads). Steps, services, balance policies, sessions, deadlines and
//! faults here; calls, load and settings in `checks_load.rs`.

use super::checks_load;
use super::features::Feature;
use super::figures::{Figures, Seen, seen};

/// How a feature is told apart in figures: `what` in words for the
/// table, `seen` the test itself.
#[derive(Clone, Copy)]
pub struct Check {
    /// The evidence in words, as the page's second column shows it.
    pub what: &'static str,
    /// `Ok` when the figures hold the evidence, else what they hold instead.
    pub seen: fn(&Figures) -> Seen,
}

/// Session keys of the `rr` and `sticky` generators of engines-mesh.yaml.
pub const KEYS: u64 = 8;
/// Replicas of engines-mesh.yaml's `pool`.
pub const POOL: u64 = 3;

/// The check of `feature`; `None` for a feature nobody wrote one for yet
/// (a new word of the format), which fails the test.
pub fn check_for(feature: &Feature) -> Option<Check> {
    let c = |what, seen| Some(Check { what, seen });
    match (feature.group, feature.word) {
        ("step kind", "work") => c("branch's `work: 100ms` held it about 100 ms", work),
        ("step kind", "call") => c("front's calls reached branch, one request each", call),
        ("step kind", "parallel") => {
            c("two 100 ms branches took under 9/10 of their sum", parallel)
        }
        ("service kind", "service") => c("front served every request its generator sent", service),
        ("service kind", "balancer") => {
            c("lb-rr forwarded each request to a pool replica", balancer)
        }
        ("balance policy", "round_robin") => c("replicas' shares differ by at most one", rr),
        ("balance policy", "random") => c("each replica's share within 4σ of a third", random),
        ("balance policy", "least_requests") => {
            c("the slowed replica got well under a third", least)
        }
        ("balance policy", "p2c") => c("the slowed replica got well under a third", p2c),
        ("balance policy", "sticky") => c("each session key missed on one replica only", sticky),
        ("session", "stateless") => c("keyed requests missed nothing", stateless),
        ("session", "sessions") => c("unseen keys ran `session_miss`", sessions),
        ("deadlines", "honor") => c("tight dropped or cut requests past their deadline", honor),
        ("deadlines", "ignore") => c("sloth served requests its callers gave up on", ignore),
        ("fault kind", "slow") => c("pool#0's work took 20x longer", slow),
        ("fault kind", "errors") => c("flaky failed about half its requests", errors),
        ("fault kind", "kill") => c("victim#0 died and served less", kill),
        ("fault kind", "pause") => c("requests to frozen waited out the pause", pause),
        ("fault kind", "link") => c("calls across the partitioned link failed", link),
        _ => checks_load::check_for(feature),
    }
}

fn f(n: u64) -> f64 {
    n as f64
}

/// The counts `n` trials at `p` give but for a chance of 6.3e-5 (4σ), or
/// why the sample is too small to say.
pub fn binomial(n: u64, p: f64) -> Result<std::ops::RangeInclusive<u64>, String> {
    let variance = f(n) * p * (1.0 - p);
    if variance < 9.0 {
        return Err(format!("{n} trials are too few to judge a share of {p}"));
    }
    Ok(crate::common::tolerance::binomial_range(n, p))
}

fn work(r: &Figures) -> Seen {
    let w = &r.endpoint("branch", "Left")?.work_ms;
    seen((90.0..=150.0).contains(&w.p50), || {
        format!("branch/Left work p50 {} ms", w.p50)
    })
}

fn call(r: &Figures) -> Seen {
    let attempts = r.calls("front", "branch/Thrice")?.attempts;
    let served = r.endpoint("branch", "Thrice")?.requests;
    seen(attempts > 0 && served * 10 >= attempts * 9, || {
        format!("{attempts} calls, {served} served")
    })
}

fn parallel(r: &Figures) -> Seen {
    let fan = r.endpoint("front", "Fan")?.latency_ms.p50;
    let left = r.endpoint("branch", "Left")?.latency_ms.p50;
    let right = r.endpoint("branch", "Right")?.latency_ms.p50;
    seen(fan > 0.0 && fan < 0.9 * (left + right), || {
        format!("front/Fan p50 {fan} ms against branches of {left} + {right} ms")
    })
}

fn service(r: &Figures) -> Seen {
    let sent = r.load("fan")?.sent;
    let served = r.endpoint("front", "Fan")?.requests;
    seen(sent > 0 && served == sent, || {
        format!("{sent} sent, {served} served")
    })
}

fn balancer(r: &Figures) -> Seen {
    let forwarded = r.calls("lb-rr", "pool/A")?.attempts;
    let asked = r.endpoint("lb-rr", "A")?.requests;
    let served = r.endpoint("pool", "A")?.requests;
    seen(asked > 0 && forwarded == asked && served == asked, || {
        format!("lb-rr asked {asked}, forwarded {forwarded}, pool/A served {served}")
    })
}

/// The balancer `lb`'s attempts per pool replica, at least 100 in all.
fn shares(r: &Figures, lb: &str, endpoint: &str) -> Result<Vec<u64>, String> {
    let per = r
        .calls(lb, &format!("pool/{endpoint}"))?
        .per_replica
        .clone();
    let n: u64 = per.iter().sum();
    if per.len() as u64 != POOL || n < 100 {
        return Err(format!("{lb}: {per:?}"));
    }
    Ok(per)
}

fn rr(r: &Figures) -> Seen {
    let per = shares(r, "lb-rr", "A")?;
    let (lo, hi) = (per.iter().min().unwrap(), per.iter().max().unwrap());
    seen(hi - lo <= 1, || format!("lb-rr: {per:?}"))
}

fn random(r: &Figures) -> Seen {
    let per = shares(r, "lb-random", "B")?;
    let range = binomial(per.iter().sum(), 1.0 / POOL as f64)?;
    seen(per.iter().all(|n| range.contains(n)), || {
        format!("lb-random: {per:?}, expected each in {range:?}")
    })
}

/// A policy that notices load sends the slowed replica less than a third.
fn avoids_the_slow_one(r: &Figures, lb: &str, endpoint: &str) -> Seen {
    let per = shares(r, lb, endpoint)?;
    let range = binomial(per.iter().sum(), 1.0 / POOL as f64)?;
    let least = *per.iter().min().unwrap();
    seen(least < *range.start(), || {
        format!("{lb}: {per:?}, the fewest not under {range:?}")
    })
}

fn least(r: &Figures) -> Seen {
    avoids_the_slow_one(r, "lb-least", "C")
}

fn p2c(r: &Figures) -> Seen {
    avoids_the_slow_one(r, "lb-p2c", "D")
}

/// Sticky sends a key to one replica: it misses there once, or twice when
/// two of its requests meet the replica at once (a key is remembered once
/// a request succeeds); round robin misses it on every replica.
fn sticky(r: &Figures) -> Seen {
    let e = r.endpoint("pool", "E")?;
    seen(
        e.requests >= 100 && (1..=2 * KEYS).contains(&e.session_misses),
        || {
            format!(
                "pool/E: {} misses of {} requests",
                e.session_misses, e.requests
            )
        },
    )
}

fn stateless(r: &Figures) -> Seen {
    let e = r.endpoint("front", "Fan")?;
    seen(e.requests > 0 && e.session_misses == 0, || {
        format!("front/Fan: {} misses", e.session_misses)
    })
}

fn sessions(r: &Figures) -> Seen {
    let misses = r.endpoint("pool", "A")?.session_misses;
    seen(misses > 0, || "pool/A missed no session".into())
}

fn honor(r: &Figures) -> Seen {
    let t = r.endpoint("tight", "Get")?;
    let cut = t.deadline_dropped + t.errors.get("DEADLINE_EXCEEDED").copied().unwrap_or(0);
    seen(cut > 0, || format!("tight dropped none: {:?}", t.errors))
}

fn ignore(r: &Figures) -> Seen {
    let s = r.endpoint("sloth", "Get")?;
    let answered = r
        .calls("front", "sloth/Get")?
        .outcomes
        .get("OK")
        .copied()
        .unwrap_or(0);
    let cut = s.deadline_dropped + s.errors.get("DEADLINE_EXCEEDED").copied().unwrap_or(0);
    seen(cut == 0 && s.ok > 2 * answered, || {
        format!("sloth: {} OK, {cut} cut, its callers took {answered}", s.ok)
    })
}

fn slow(r: &Figures) -> Seen {
    let applied =
        r.summary.faults.iter().any(|x| {
            x.fault.starts_with("slow") && x.applied_s.is_some() && x.replicas == ["pool#0"]
        });
    let max = r.endpoint("pool", "A")?.work_ms.max;
    seen(applied && max >= 150.0, || {
        format!("applied: {applied}; pool/A work max {max} ms")
    })
}

fn errors(r: &Figures) -> Seen {
    let e = r.endpoint("flaky", "Get")?;
    let failed = e.errors.get("UNAVAILABLE").copied().unwrap_or(0);
    let range = binomial(e.requests, 0.5)?;
    seen(range.contains(&failed), || {
        format!(
            "flaky/Get: {failed} of {} failed, expected {range:?}",
            e.requests
        )
    })
}

fn kill(r: &Figures) -> Seen {
    let v = r.service("victim")?;
    let per = &r.endpoint("victim", "Get")?.per_replica;
    let dead = v.unreachable.first().map(|i| *i as usize);
    let killed_served_less = dead.is_some_and(|d| per.len() == 2 && per[d] * 2 < per[1 - d]);
    seen(killed_served_less, || {
        format!("victim: unreachable {:?}, served {per:?}", v.unreachable)
    })
}

fn pause(r: &Figures) -> Seen {
    let max = r.load("freezes")?.latency_ms.max;
    seen(max >= 500.0, || {
        format!("requests to frozen took at most {max} ms through a 1 s pause")
    })
}

fn link(r: &Figures) -> Seen {
    let c = r.calls("edge", "store/Put")?;
    let failed: u64 = c
        .outcomes
        .iter()
        .filter(|(k, _)| *k != "OK")
        .map(|(_, n)| n)
        .sum();
    seen(failed > 0, || format!("edge -> store: {:?}", c.outcomes))
}
