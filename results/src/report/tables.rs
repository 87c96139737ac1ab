//! The terminal's summary tables, in the report: the load as the askers saw
//! it, every endpoint as the answerers saw it, the calls each service made
//! (retries, breaker), and per-replica counts. Services, endpoints and
//! generators come in the topology file's order, as the file reads.

use maud::{Markup, html};
use topolab_model::{Topology, calls};

use super::charts::{css, generator_colour};
use crate::summary::{Percentiles, Summary};
use crate::units::ms;

fn errors(e: &std::collections::BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = e
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join(", ")
    }
}

/// `p50 / p99` in one cell, so wide tables still fit the page.
fn p(p: &Percentiles) -> Markup {
    html! { td { (ms(p.p50)) " / " (ms(p.p99)) } }
}

/// The load table: one row per generator, in file order, its colour beside
/// its name as on the charts.
pub fn load(t: &Topology, s: &Summary) -> Markup {
    html! {
        table.figures {
            tr {
                th { "generator" } th { "target" } th { "asked/s" } th { "sent" } th { "ok" }
                th { "rejected" } th { "timeouts" } th { "errors" } th { "sent/s" } th { "ok/s" }
                th { "p50 / p99 ms" } th { "max ms" } th { "late>1ms" }
            }
            @for (i, g) in t.load.iter().enumerate() {
                @if let Some(l) = s.load.get(&g.name) {
                    tr {
                        td { span.swatch style={ "background:" (css(generator_colour(i))) } {} (g.name) }
                        td { (l.target) }
                        td { (l.asked_rate.map_or("-".into(), |r| format!("{r:.2}"))) }
                        td { (l.sent) } td { (l.ok) } td { (l.rejected) } td { (l.timeouts) }
                        td { (errors(&l.errors)) }
                        td { (format!("{:.2}", l.sent_rate)) }
                        td { (format!("{:.2}", l.throughput)) }
                        (p(&l.latency_ms))
                        td { (ms(l.latency_ms.max)) }
                        td { (l.late_over_1ms) }
                    }
                }
            }
        }
    }
}

/// The endpoints table: every endpoint of every service, in file order.
pub fn endpoints(t: &Topology, s: &Summary) -> Markup {
    html! {
        table.figures {
            tr {
                th { "service/endpoint" } th { "requests" } th { "ok" } th { "rejected" }
                th { "errors" } th { "dropped" } th { "max queue" } th { "session misses" }
                th { "latency p50 / p99" } th { "queue wait p50 / p99" } th { "work p50 / p99" }
            }
            @for svc in &t.services {
                @if let Some(sv) = s.services.get(&svc.name) {
                    @for ep in &svc.endpoints {
                        @if let Some(e) = sv.endpoints.get(&ep.name) {
                            tr {
                                td { (svc.name) "/" (ep.name) }
                                td { (e.requests) } td { (e.ok) } td { (e.rejected) }
                                td { (errors(&e.errors)) } td { (e.deadline_dropped) }
                                td { (e.max_queue) } td { (e.session_misses) }
                                (p(&e.latency_ms)) (p(&e.queue_wait_ms)) (p(&e.work_ms))
                            }
                        }
                    }
                }
            }
        }
        p.muted { "Times in ms. " b { "dropped" } ": requests whose caller had given up before a worker took them; " b { "max queue" } ": the deepest any replica's queue got." }
    }
}

/// Calls each service made, by callee, in the order the file makes them:
/// attempts, how they ended, retries and the breaker.
pub fn calls(t: &Topology, s: &Summary) -> Option<Markup> {
    let mut rows = Vec::new();
    for svc in &t.services {
        let Some(sv) = s.services.get(&svc.name) else {
            continue;
        };
        let mut seen: Vec<String> = Vec::new();
        for edge in calls::of_service(svc) {
            let callee = format!("{}/{}", edge.call.service, edge.call.endpoint);
            if seen.contains(&callee) {
                continue;
            }
            seen.push(callee.clone());
            if let Some(c) = sv.calls.get(&callee) {
                rows.push((svc.name.clone(), callee, c.clone()));
            }
        }
    }
    if rows.is_empty() {
        return None;
    }
    Some(html! {
        table.figures {
            tr {
                th { "caller → callee" } th { "attempts" } th { "outcomes" } th { "retries" }
                th { "retries denied" } th { "breaker rejected" } th { "breaker opened" }
                th { "per replica" }
            }
            @for (from, to, c) in &rows {
                tr {
                    td { (from) " → " (to) }
                    td { (c.attempts) }
                    td { (errors(&c.outcomes)) }
                    td { (c.retries) } td { (c.retries_denied) }
                    td { (c.breaker_rejected) } td { (c.breaker_opened) }
                    td { (join(&c.per_replica)) }
                }
            }
        }
    })
}

/// Time on the wire per link, on a modelled network (`summary.json`'s `links`).
pub fn links(s: &Summary) -> Option<Markup> {
    if s.links.is_empty() {
        return None;
    }
    Some(html! {
        table.figures {
            tr {
                th { "caller → callee" } th { "calls" } th { "wire p50 ms" } th { "p99" }
                th { "max" } th { "failed" }
            }
            @for (link, l) in &s.links {
                tr {
                    td { (link.replace("->", "→")) }
                    td { (l.calls) }
                    td { (ms(l.wire_ms.p50)) }
                    td { (ms(l.wire_ms.p99)) }
                    td { (ms(l.wire_ms.max)) }
                    td { (errors(&l.failed)) }
                }
            }
        }
    })
}

/// Requests per replica of every service with more than one, and restarts.
pub fn replicas(t: &Topology, s: &Summary) -> Option<Markup> {
    let many: Vec<_> = t
        .services
        .iter()
        .filter(|svc| svc.replicas > 1 || s.services.get(&svc.name).is_some_and(|x| x.restarts > 0))
        .filter_map(|svc| Some((svc, s.services.get(&svc.name)?)))
        .collect();
    if many.is_empty() {
        return None;
    }
    Some(html! {
        table.figures {
            tr { th { "service/endpoint" } th { "requests per replica" } th { "restarts" } th { "dead at the end" } }
            @for (svc, sv) in &many {
                @for ep in &svc.endpoints {
                    @if let Some(e) = sv.endpoints.get(&ep.name) {
                        tr {
                            td { (svc.name) "/" (ep.name) }
                            td { (join(&e.per_replica)) }
                            td { (sv.restarts) }
                            td { (sv.unreachable.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join(" ")) }
                        }
                    }
                }
            }
        }
    })
}

fn join(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(" / ")
}
