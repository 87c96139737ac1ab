//! The end-of-run tables for data that changes: per following generator how
//! stale its clients were, and per endpoint of a service with `updates` what
//! they cost it (requests per second, long polls held, streams, pushes).

use super::{align, row};
use crate::summary::Summary;
use topolab_results::units::ms;

/// Both tables, or nothing when the run followed no updates.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let mut rows = vec![row(&[
        "follows",
        "way",
        "stale mean ms",
        "p50",
        "p99",
        "max",
        "versions",
        "seen",
        "missed",
        "reconnects",
    ])];
    for (name, l) in &s.load {
        let Some(u) = &l.updates else { continue };
        rows.push(vec![
            name.clone(),
            u.way.clone(),
            ms(u.staleness_ms.mean),
            ms(u.staleness_ms.p50),
            ms(u.staleness_ms.p99),
            ms(u.staleness_ms.max),
            u.versions_created.to_string(),
            u.versions_seen.to_string(),
            u.versions_missed.to_string(),
            u.reconnects.to_string(),
        ]);
    }
    if rows.len() > 1 {
        out.push('\n');
        out.push_str(&align(&rows));
    }
    let mut rows = vec![row(&[
        "updates cost",
        "requests/s",
        "long polls",
        "most held",
        "streams",
        "most open",
        "refused",
        "pushed",
    ])];
    for (name, svc) in &s.services {
        for (ep, e) in &svc.endpoints {
            let Some(u) = &e.updates else { continue };
            rows.push(vec![
                format!("{name}/{ep}"),
                format!("{:.2}", u.requests_per_s),
                u.long_polls.to_string(),
                u.max_held.to_string(),
                u.streams_opened.to_string(),
                u.max_streams.to_string(),
                u.streams_rejected.to_string(),
                u.pushed.to_string(),
            ]);
        }
    }
    if rows.len() > 1 {
        out.push('\n');
        out.push_str(&align(&rows));
    }
    out
}
