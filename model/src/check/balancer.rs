//! `kind: balancer`: its `backend` and `policy`, and, once every service is
//! known, its endpoints, which mirror the backend's: each forwards to the
//! backend's endpoint of the same name, within the caller's deadline.

use super::graph::Ref;
use super::service::BALANCES;
use super::{Checker, did_you_mean, error_at};
use crate::defaults::{self, FORWARD_TIMEOUT};
use crate::model::{Balance, Call, Endpoint, Service, Step, Target};
use crate::service_kind::Kind;
use crate::tree::{Located, Node};

/// `backend` (required) and `policy` (default `round_robin`).
pub(super) fn kind(ck: &mut Checker, f: &super::Fields, name: &Located<String>) -> Kind {
    let mut policy = Balance::RoundRobin;
    if let Some(v) = f.get("policy") {
        policy = ck.choice("policy", v, &BALANCES).unwrap_or(policy);
    }
    let backend = match f.get("backend") {
        Some(v) => ck
            .scalar("backend", v, "the name of the service to balance")
            .unwrap_or_default()
            .to_string(),
        None => {
            let what = format!("balancer `{}`", name.value);
            ck.missing(&what, "backend", name.loc, "backend: api");
            String::new()
        }
    };
    Kind::Balancer { backend, policy }
}

/// `backend` and `policy` on an ordinary service: say where they belong.
pub(super) fn refuse_balancer_keys(ck: &mut Checker, f: &super::Fields) {
    for key in ["backend", "policy"] {
        if let Some((k, _)) = f.entry(key) {
            let help = if key == "policy" {
                "add `kind: balancer`, or use `balance` to say how callers pick a replica"
            } else {
                "add `kind: balancer`, or remove it"
            };
            ck.push(error_at(format!("`{key}` applies only to `kind: balancer`"), k).help(help));
        }
    }
}

/// Gives every balancer its backend's endpoints, once all services are
/// known; `raw` is the `services:` map, to point errors at `backend:`.
pub(super) fn resolve(
    ck: &mut Checker,
    services: &mut [Service],
    raw: &[(Located<String>, Located<Node>)],
    refs: &mut Vec<Ref>,
) {
    for i in 0..services.len() {
        let Kind::Balancer { backend, .. } = &services[i].kind else {
            continue;
        };
        let backend = backend.clone();
        let name = services[i].name.clone();
        let Some(site) = raw
            .iter()
            .find(|(k, _)| k.value == name)
            .and_then(|(_, body)| body.value.get("backend"))
        else {
            continue; // missing `backend`, already reported
        };
        let Some(target) = services.iter().find(|s| s.name == backend) else {
            let mut d = error_at(
                format!("unknown service `{backend}` as the backend of `{name}`"),
                site,
            );
            if let Some(m) = did_you_mean(&backend, services.iter().map(|s| s.name.as_str())) {
                d = d.help(format!("did you mean `{m}`?"));
            }
            ck.push(d);
            continue;
        };
        if matches!(target.kind, Kind::Balancer { .. }) {
            ck.push(
                error_at(
                    format!("the backend of `{name}` is `{backend}`, another balancer"),
                    site,
                )
                .help("point a balancer at the service it balances"),
            );
            continue;
        }
        let endpoints: Vec<Endpoint> = target
            .endpoints
            .iter()
            .map(|e| forward(&backend, &e.name))
            .collect();
        for e in &endpoints {
            refs.push(Ref {
                from: Some((name.clone(), e.name.clone())),
                to: crate::model::Target {
                    service: backend.clone(),
                    endpoint: e.name.clone(),
                },
                site: Located {
                    value: (),
                    loc: site.loc,
                    set_by: site.set_by.clone(),
                },
            });
        }
        services[i].endpoints = endpoints;
    }
}

/// The endpoint of a balancer that forwards to `backend/endpoint`.
fn forward(backend: &str, endpoint: &str) -> Endpoint {
    let target = Target {
        service: backend.to_string(),
        endpoint: endpoint.to_string(),
    };
    // No budget: a balancer makes no retries of its own.
    let call = Call {
        timeout: FORWARD_TIMEOUT,
        retry_budget: None,
        ..defaults::call(target, &defaults::settings())
    };
    Endpoint {
        name: endpoint.to_string(),
        steps: vec![Step::Call(call)],
        response: 0,
        errors: None,
    }
}
