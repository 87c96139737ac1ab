//! The checks of call policies, load shapes, generator kinds, updates ways
//! and settings (see `checks.rs`, whose [`Check`] they return).

use super::checks::{Check, KEYS, POOL, binomial};
use super::features::Feature;
use super::figures::{Figures, Seen, seen};

/// The check of `feature`, or `None` (see `checks::check_for`).
pub fn check_for(feature: &Feature) -> Option<Check> {
    let c = |what, seen| Some(Check { what, seen });
    match (feature.group, feature.word) {
        ("call policy", "timeout") => c(
            "a 300 ms call with `timeout: 1s` outlived the 150 ms default",
            timeout,
        ),
        ("call policy", "retries") => c("failed calls to flaky were tried again", retries),
        ("call policy", "backoff") => c("retried requests waited 30 ms more", backoff),
        ("call policy", "probability") => c("half of front/Odds called branch/Maybe", probability),
        ("call policy", "times") => c("front/Odds called branch/Thrice three times", times),
        ("call policy", "request") => c("16 KiB took over 100 ms on a 1 Mbit/s link", payload),
        ("call policy", "on_error") => c("front/Tolerant answered OK past failed calls", on_error),
        ("call policy", "retry_budget") => c("retries past 10% were denied", retry_budget),
        ("call policy", "backoff_shape") => c("a second retry waited 3x the first", backoff_shape),
        ("call policy", "breaker") => c("the breaker opened and turned calls away", breaker),
        ("load shape", "poisson") => c("sent per interval varied as a Poisson count", poisson),
        ("load shape", "constant") => c("sent per interval within one of its mean", constant),
        ("load shape", "mix") => c("about 70% of the mix went to front/Odds", mix),
        ("load shape", "start") => c("`late` sent nothing before 2 s", start),
        ("load shape", "timeout") => c("`hasty` timed out every 100 ms request", load_timeout),
        ("load shape", "retries") => c("`late` made more attempts than requests", load_retries),
        ("load shape", "request") => c("8 MiB requests refused past gRPC's 4 MiB", load_request),
        ("load shape", "sessions") => c("8 keys missed on each of 3 replicas", load_sessions),
        ("generator kind", "open") => c("`ignore` kept sending as answers failed", open),
        ("generator kind", "closed") => c("two clients sent one at a time, thinking", closed),
        ("updates way", "poll") => c("pollers saw new versions", |r| follows(r, "poll")),
        ("updates way", "long_poll") => {
            c("long pollers saw new versions", |r| follows(r, "long_poll"))
        }
        ("updates way", "subscribe") => {
            c("subscribers saw new versions", |r| follows(r, "subscribe"))
        }
        ("setting", "seed") => c("the run drew from the file's seed", seed),
        ("setting", "timeout") => c(
            "sloth's callers gave up at the 150 ms default",
            default_timeout,
        ),
        ("setting", "sample_every") => c("telemetry instants 0.2 s apart", sample_every),
        ("setting", "trace") => c("about half the requests traced", trace),
        ("setting", "trace_budget") => {
            c("traces left out to keep the file near 64 KiB", trace_budget)
        }
        ("setting", "warmup") => c("warmup requests sent and discarded", warmup),
        _ => None,
    }
}

fn count(map: &std::collections::BTreeMap<String, u64>, key: &str) -> u64 {
    map.get(key).copied().unwrap_or(0)
}

/// `settings.timeout` (150 ms) would cut a call of 300 ms; its own
/// `timeout: 1s` lets it answer.
fn timeout(r: &Figures) -> Seen {
    let c = r.calls("front", "branch/Long")?;
    let took = r.endpoint("branch", "Long")?.latency_ms.p50;
    seen(count(&c.outcomes, "OK") > 0 && took > 150.0, || {
        format!("front -> branch/Long: {:?}, {took} ms each", c.outcomes)
    })
}

fn retries(r: &Figures) -> Seen {
    let c = r.calls("front", "flaky/Get")?;
    seen(c.retries > 0, || format!("front -> flaky/Get: {c:?}"))
}

fn backoff(r: &Figures) -> Seen {
    let p90 = r.endpoint("front", "Retry")?.latency_ms.p90;
    let callee = r.endpoint("flaky", "Get")?.latency_ms.p50;
    seen(p90 >= 24.0 && callee < 10.0, || {
        format!("front/Retry p90 {p90} ms, flaky/Get p50 {callee} ms")
    })
}

fn probability(r: &Figures) -> Seen {
    let asked = r.endpoint("front", "Odds")?.requests;
    let called = r.calls("front", "branch/Maybe")?.attempts;
    let range = binomial(asked, 0.5)?;
    seen(range.contains(&called), || {
        format!("{called} calls of {asked}, expected {range:?}")
    })
}

fn times(r: &Figures) -> Seen {
    let e = r.endpoint("front", "Odds")?;
    let called = r.calls("front", "branch/Thrice")?.attempts;
    seen(
        e.ok > 0 && (3 * e.ok..=3 * e.requests).contains(&called),
        || format!("{called} calls for {} requests", e.requests),
    )
}

fn payload(r: &Figures) -> Seen {
    let p50 = r.endpoint("edge", "Send")?.latency_ms.p50;
    let work = r.endpoint("store", "Put")?.latency_ms.p50;
    seen(p50 >= 100.0 && work < 20.0, || {
        format!("edge/Send p50 {p50} ms, store/Put {work} ms")
    })
}

fn on_error(r: &Figures) -> Seen {
    let e = r.endpoint("front", "Tolerant")?;
    let c = r.calls("front", "broken/Get")?;
    seen(
        e.ok > 0 && e.ok == e.requests && count(&c.outcomes, "OK") == 0,
        || {
            format!(
                "front/Tolerant {} of {} OK; calls {:?}",
                e.ok, e.requests, c.outcomes
            )
        },
    )
}

fn retry_budget(r: &Figures) -> Seen {
    let c = r.calls("front", "flaky/Other")?;
    seen(c.retries_denied > 0, || {
        format!("front -> flaky/Other: {c:?}")
    })
}

fn backoff_shape(r: &Figures) -> Seen {
    let p99 = r.endpoint("front", "Retry")?.latency_ms.p99;
    seen(p99 >= 96.0, || {
        format!("front/Retry p99 {p99} ms, under 0.8 x (30 + 90) ms")
    })
}

fn breaker(r: &Figures) -> Seen {
    let c = r.calls("front", "broken/Get")?;
    seen(c.breaker_opened > 0 && c.breaker_rejected > 0, || {
        format!("front -> broken: {c:?}")
    })
}

/// The share of intervals of `generators` in which each sent within one
/// of its mean count: a Poisson count about a mean of 6 to 8 does so in
/// some 40-46% of them; evenly spaced arrivals in nearly all (an arrival that
/// falls on an interval's edge moves one count, not two).
fn near_mean_share(r: &Figures, generators: &[&str]) -> Result<f64, String> {
    let (mut near, mut all) = (0, 0);
    for g in generators {
        let xs = r.sent_per_interval(g);
        if xs.len() < 5 {
            return Err(format!("`{g}` has {} intervals", xs.len()));
        }
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        near += xs.iter().filter(|x| (*x - mean).abs() <= 1.0).count();
        all += xs.len();
    }
    Ok(near as f64 / all as f64)
}

fn poisson(r: &Figures) -> Seen {
    let share = near_mean_share(r, &["random", "retry", "budget", "odds", "honor", "ignore"])?;
    seen(share < 0.62, || {
        format!("{share:.2} of intervals within one of the mean")
    })
}

fn constant(r: &Figures) -> Seen {
    let share = near_mean_share(r, &["rr", "least", "p2c", "sticky"])?;
    seen(share >= 0.85, || {
        format!("{share:.2} of intervals within one of the mean")
    })
}

fn mix(r: &Figures) -> Seen {
    let sent = r.load("odds")?.sent;
    let to_odds = r.endpoint("front", "Odds")?.requests;
    let range = binomial(sent, 0.7)?;
    seen(range.contains(&to_odds), || {
        format!("{to_odds} of {sent} to front/Odds, expected {range:?}")
    })
}

fn start(r: &Figures) -> Seen {
    let first = r
        .load_rows
        .iter()
        .find(|row| row.generator == "late" && row.sent > 0)
        .map(|row| row.t_s);
    seen(first.is_some_and(|t| t > 2.0), || {
        format!("`late` first sent in the interval ending {first:?} s")
    })
}

fn load_timeout(r: &Figures) -> Seen {
    let l = r.load("hasty")?;
    seen(l.timeouts > 0 && l.ok == 0, || format!("hasty: {l:?}"))
}

fn load_retries(r: &Figures) -> Seen {
    let l = r.load("late")?;
    seen(l.attempts > l.sent, || {
        format!("late: {} attempts for {} requests", l.attempts, l.sent)
    })
}

/// No figure counts bytes; a request past gRPC's 4 MiB message limit
/// shows that the generator built and sent its `request` size.
fn load_request(r: &Figures) -> Seen {
    let l = r.load("bulk")?;
    seen(
        l.sent > 0 && count(&l.errors, "OUT_OF_RANGE") == l.sent,
        || format!("bulk: {} sent, errors {:?}", l.sent, l.errors),
    )
}

fn load_sessions(r: &Figures) -> Seen {
    let misses = r.endpoint("pool", "A")?.session_misses;
    // Each key once per replica (twice when two requests meet at once).
    seen(misses > 2 * KEYS && misses <= 2 * KEYS * POOL, || {
        format!("pool/A: {misses} misses for {KEYS} keys on {POOL} replicas")
    })
}

/// `ignore` asks 50/s for 3 s of an overloaded sloth: an open loop sends
/// them all (a Poisson count within 4σ) though most fail.
fn open(r: &Figures) -> Seen {
    let l = r.load("ignore")?;
    let expected = 150.0;
    let near = (l.sent as f64 - expected).abs() <= 4.0 * f64::sqrt(expected);
    seen(near && l.ok * 2 < l.sent, || {
        format!("ignore: {} sent of {expected} asked, {} OK", l.sent, l.ok)
    })
}

fn closed(r: &Figures) -> Seen {
    // Two clients, each waiting ~100 ms for its answer and thinking 50 ms.
    let sent = r.load("fan")?.sent as f64;
    let most = 2.0 * 4.0 / 0.150 * 1.1;
    seen((10.0..=most).contains(&sent), || {
        format!("fan sent {sent}, two clients could send at most {most:.0}")
    })
}

fn follows(r: &Figures, way: &str) -> Seen {
    let got = r
        .summary
        .load
        .values()
        .filter_map(|l| l.updates.as_ref())
        .find(|u| u.way == way);
    seen(got.is_some_and(|u| u.versions_seen > 0), || {
        format!("no `{way}` client saw a version")
    })
}

fn seed(r: &Figures) -> Seen {
    seen(r.summary.seed == 28, || format!("seed {}", r.summary.seed))
}

/// The call to sloth names no timeout and the generator's deadline is the
/// default 10 s: only `settings.timeout` can have cut it.
fn default_timeout(r: &Figures) -> Seen {
    let c = r.calls("front", "sloth/Get")?;
    seen(count(&c.outcomes, "DEADLINE_EXCEEDED") > 0, || {
        format!("front -> sloth: {:?}", c.outcomes)
    })
}

fn sample_every(r: &Figures) -> Seen {
    let gaps: Vec<f64> = r.instants.windows(2).map(|w| w[1] - w[0]).collect();
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    seen(gaps.len() >= 5 && (median - 0.2).abs() < 0.01, || {
        format!("{} instants, median gap {median} s", r.instants.len())
    })
}

fn trace(r: &Figures) -> Seen {
    let t = r.summary.traces.as_ref().ok_or("no traces figures")?;
    let sent: u64 = r.summary.load.values().map(|l| l.sent).sum();
    let range = binomial(sent, 0.5)?;
    seen(range.contains(&t.sampled_requests), || {
        format!(
            "{} of {sent} traced, expected {range:?}",
            t.sampled_requests
        )
    })
}

fn trace_budget(r: &Figures) -> Seen {
    let t = r.summary.traces.as_ref().ok_or("no traces figures")?;
    let left_out = t.keeping.as_ref().map_or(0, |k| k.left_out);
    seen(t.budget_bytes == 64 * 1024 && left_out > 0, || {
        format!("budget {} B, {left_out} traces left out", t.budget_bytes)
    })
}

fn warmup(r: &Figures) -> Seen {
    let w = r.summary.warmup.as_ref().ok_or("no warmup figures")?;
    seen(w.requests_sent > 0, || format!("warmup: {w:?}"))
}
