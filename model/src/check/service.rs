//! Services, their endpoints and the steps each endpoint runs. Calls are
//! recorded as references for [`super::graph`] to resolve once every service
//! is known.

use super::graph::{self, Ref};
use super::{Checker, error_at};
use super::{balancer, policy};
use crate::defaults;
use crate::model::{
    Balance, Call, Discipline, Endpoint, OnError, ServeModel, Service, Settings, Step, Target,
};
use crate::service_kind::{Deadlines, Kind, Restart, State};
use crate::tree::{Located, Node};
use crate::values;

pub(crate) const SERVICE_KEYS: &[&str] = &[
    "replicas",
    "workers",
    "queue",
    "discipline",
    "model",
    "balance",
    "kind",
    "state",
    "restart",
    "endpoints",
    "session_miss",
    "backend",
    "policy",
    "deadlines",
    "updates",
];
pub(crate) const ENDPOINT_KEYS: &[&str] = &["steps", "response", "errors"];
const ACTIONS: &[&str] = &["work", "call", "parallel"];
pub(crate) const CALL_KEYS: &[&str] = &[
    "call",
    "timeout",
    "retries",
    "backoff",
    "probability",
    "times",
    "request",
    "on_error",
    "retry_budget",
    "backoff_multiplier",
    "jitter",
    "breaker",
];

/// The balancing policies, by the names users write.
pub(super) const BALANCES: [(&str, Balance); 5] = [
    ("round_robin", Balance::RoundRobin),
    ("random", Balance::Random),
    ("least_requests", Balance::LeastRequests),
    ("p2c", Balance::P2c),
    ("sticky", Balance::Sticky),
];

/// The `services:` map, in file order.
pub(super) fn services(
    ck: &mut Checker,
    key: &Located<String>,
    node: &Located<Node>,
    settings: &Settings,
    refs: &mut Vec<Ref>,
) -> Vec<Service> {
    let mut out = Vec::new();
    let Node::Map(entries) = &node.value else {
        let d = error_at(
            format!(
                "`services` should be a map, found {}",
                node.value.describe()
            ),
            node,
        )
        .help("map each service name to its settings, like `kitchen: { endpoints: ... }`");
        ck.push(d);
        return out;
    };
    if entries.is_empty() {
        ck.push(error_at("`services` is empty", key).help("add at least one service"));
    }
    // Names seen, so ten thousand services are checked in linear time.
    let mut seen = std::collections::HashSet::new();
    for (name, body) in entries {
        if !seen.insert(name.value.as_str()) {
            ck.push(error_at(
                format!("duplicate service `{}`", name.value),
                name,
            ));
            continue;
        }
        ck.name("service", name, false);
        out.push(service(ck, name, body, settings, refs));
    }
    balancer::resolve(ck, &mut out, entries, refs);
    out
}

fn service(
    ck: &mut Checker,
    name: &Located<String>,
    node: &Located<Node>,
    settings: &Settings,
    refs: &mut Vec<Ref>,
) -> Service {
    let mut s = defaults::service(&name.value);
    let what = format!("service `{}`", s.name);
    let Some(f) = ck.fields(node, &what, SERVICE_KEYS, &[]) else {
        return s;
    };
    if let Some(v) = f.get("kind") {
        let options = [("service", false), ("balancer", true)];
        if ck.choice("kind", v, &options) == Some(true) {
            s.kind = balancer::kind(ck, &f, name);
            s.workers = defaults::DEFAULT_BALANCER_WORKERS;
        }
    }
    if s.kind == Kind::Service {
        balancer::refuse_balancer_keys(ck, &f);
    }
    if let Some(v) = f.get("replicas") {
        s.replicas = ck.positive_count("replicas", v).unwrap_or(1);
    }
    if let Some(v) = f.get("workers") {
        s.workers = ck.positive_count("workers", v).unwrap_or(s.workers);
    }
    if let Some(v) = f.get("queue") {
        s.queue = match &v.value {
            Node::Scalar(q) if q == "unbounded" => None,
            _ => ck.parse(
                "queue",
                v,
                "a whole number like `10`, or `unbounded`",
                values::count,
            ),
        };
    }
    if let Some(v) = f.get("discipline") {
        let options = [("fifo", Discipline::Fifo), ("lifo", Discipline::Lifo)];
        s.discipline = ck.choice("discipline", v, &options).unwrap_or(s.discipline);
    }
    if let Some(v) = f.get("model") {
        let options = [
            ("blocking", ServeModel::Blocking),
            ("async", ServeModel::Async),
        ];
        s.model = ck.choice("model", v, &options).unwrap_or(s.model);
    }
    if let Some(v) = f.get("balance") {
        s.balance = ck.choice("balance", v, &BALANCES).unwrap_or(s.balance);
    }
    if let Some(v) = f.get("state") {
        let options = [
            ("stateless", State::Stateless),
            ("sessions", State::Sessions),
        ];
        s.state = ck.choice("state", v, &options).unwrap_or(s.state);
    }
    if let Some(v) = f.get("restart") {
        let options = [("never", Restart::Never), ("always", Restart::Always)];
        s.restart = ck.choice("restart", v, &options).unwrap_or(s.restart);
    }
    if let Some(v) = f.get("deadlines") {
        let options = [("honor", Deadlines::Honor), ("ignore", Deadlines::Ignore)];
        s.deadlines = ck.choice("deadlines", v, &options).unwrap_or(s.deadlines);
    }
    if let Some((k, v)) = f.entry("updates") {
        s.updates = super::follow::updates(ck, k, v, &s.kind);
    }
    match (f.entry("endpoints"), &s.kind) {
        (Some((k, _)), Kind::Balancer { backend, .. }) => ck.push(
            error_at("a balancer has no endpoints of its own", k).help(format!(
                "remove `endpoints`: `{}` serves every endpoint of `{backend}`",
                s.name
            )),
        ),
        (Some((k, v)), Kind::Service) => {
            s.endpoints = endpoints(ck, k, v, &s.name, settings, refs);
        }
        (None, Kind::Balancer { .. }) => {}
        (None, Kind::Service) => {
            ck.missing(&what, "endpoints", name.loc, "endpoints: { Ping: {} }");
        }
    }
    sessions(ck, &f, &mut s, settings, refs);
    s
}

/// `state: sessions` and its `session_miss` steps. The steps run before any
/// endpoint's own, so their calls are recorded as made by every endpoint.
fn sessions(
    ck: &mut Checker,
    f: &super::Fields,
    s: &mut Service,
    settings: &Settings,
    refs: &mut Vec<Ref>,
) {
    let Some((k, v)) = f.entry("session_miss") else {
        return;
    };
    if s.state != State::Sessions {
        ck.push(
            error_at("`session_miss` applies only with `state: sessions`", k)
                .help("add `state: sessions`, or remove `session_miss`"),
        );
        return;
    }
    let names: Vec<String> = s.endpoints.iter().map(|e| e.name.clone()).collect();
    let Some(first) = names.first() else { return };
    let from = (s.name.clone(), first.clone());
    let start = refs.len();
    let mut ctx = StepCtx {
        from: &from,
        settings,
        refs,
    };
    s.session_miss = steps(ck, v, &mut ctx);
    let made: Vec<Ref> = refs[start..].to_vec();
    for other in &names[1..] {
        refs.extend(made.iter().map(|r| Ref {
            from: Some((s.name.clone(), other.clone())),
            ..r.clone()
        }));
    }
}

fn endpoints(
    ck: &mut Checker,
    key: &Located<String>,
    node: &Located<Node>,
    service: &str,
    settings: &Settings,
    refs: &mut Vec<Ref>,
) -> Vec<Endpoint> {
    let entries = match &node.value {
        Node::Map(entries) => entries.as_slice(),
        Node::Null => &[],
        other => {
            ck.push(
                error_at(
                    format!("`endpoints` should be a map, found {}", other.describe()),
                    node,
                )
                .help("map each endpoint name to what it does, like `Cook: { steps: [...] }`"),
            );
            return Vec::new();
        }
    };
    if entries.is_empty() {
        ck.push(
            error_at(format!("service `{service}` has no endpoints"), key)
                .help("add at least one, like `Ping: {}`"),
        );
    }
    let mut out: Vec<Endpoint> = Vec::new();
    for (name, body) in entries {
        if out.iter().any(|e| e.name == name.value) {
            ck.push(error_at(
                format!("duplicate endpoint `{}`", name.value),
                name,
            ));
            continue;
        }
        ck.name("endpoint", name, true);
        let mut e = Endpoint {
            name: name.value.clone(),
            steps: Vec::new(),
            response: 0,
            errors: None,
        };
        let what = format!("endpoint `{service}/{}`", e.name);
        if let Some(f) = ck.fields(body, &what, ENDPOINT_KEYS, &[]) {
            let from = (service.to_string(), e.name.clone());
            let mut ctx = StepCtx {
                from: &from,
                settings,
                refs,
            };
            if let Some(v) = f.get("steps") {
                e.steps = steps(ck, v, &mut ctx);
            }
            if let Some(v) = f.get("response") {
                e.response = ck
                    .parse("response", v, values::SIZE, values::size)
                    .unwrap_or(0);
            }
            if let Some(v) = f.get("errors") {
                e.errors = ck.parse("errors", v, values::ERRORS, values::errors);
            }
        }
        out.push(e);
    }
    out
}

/// What a step needs from its endpoint: who calls, and call defaults.
struct StepCtx<'a> {
    from: &'a (String, String),
    settings: &'a Settings,
    refs: &'a mut Vec<Ref>,
}

fn steps(ck: &mut Checker, node: &Located<Node>, ctx: &mut StepCtx) -> Vec<Step> {
    match &node.value {
        Node::Null => Vec::new(),
        Node::Seq(items) => items.iter().filter_map(|i| step(ck, i, ctx)).collect(),
        other => {
            ck.push(
                error_at(
                    format!("`steps` should be a list, found {}", other.describe()),
                    node,
                )
                .help("write one step per line, like `- work: exp(2ms)`"),
            );
            Vec::new()
        }
    }
}

fn step(ck: &mut Checker, node: &Located<Node>, ctx: &mut StepCtx) -> Option<Step> {
    let Node::Map(entries) = &node.value else {
        ck.push(
            error_at(
                format!("a step should be a map, found {}", node.value.describe()),
                node,
            )
            .help("write a step like `work: exp(2ms)` or `call: auth/Verify`"),
        );
        return None;
    };
    let actions: Vec<_> = entries
        .iter()
        .filter(|(k, _)| ACTIONS.contains(&k.value.as_str()))
        .collect();
    let Some((action, _)) = actions.first() else {
        let mut d = error_at("a step needs one of `work`, `call` or `parallel`", node);
        let keys = entries.iter().map(|(k, _)| k.value.as_str());
        if let Some(m) = keys
            .filter_map(|k| super::did_you_mean(k, ACTIONS.iter().copied()))
            .next()
        {
            d = d.help(format!("did you mean `{m}`?"));
        }
        ck.push(d);
        return None;
    };
    if let Some((second, _)) = actions.get(1) {
        let d = error_at(
            format!(
                "a step does one thing, but this one has `{}` and `{}`",
                action.value, second.value
            ),
            second,
        )
        .help("write them as separate steps, each its own `- ` item");
        ck.push(d);
        return None;
    }
    let kind = action.value.as_str();
    let mut known: Vec<&str> = match kind {
        "call" => CALL_KEYS.to_vec(),
        _ => vec![kind],
    };
    if kind != "call" {
        // A call option on another step: say where it belongs.
        for (k, _) in entries
            .iter()
            .filter(|(k, _)| CALL_KEYS.contains(&k.value.as_str()))
        {
            known.push(k.value.as_str());
            let d = error_at(format!("`{}` applies only to `call` steps", k.value), k).help(
                format!("remove it, or move it to a `call` step; this is a `{kind}` step"),
            );
            ck.push(d);
        }
    }
    let f = ck.fields(node, &format!("a `{kind}` step"), &known, &[])?;
    let v = f.get(kind)?;
    match kind {
        "work" => ck
            .parse("work", v, values::DIST, values::dist)
            .map(Step::Work),
        "call" => call(ck, v, &f, ctx).map(Step::Call),
        _ => parallel(ck, v, ctx).map(Step::Parallel),
    }
}

fn call(
    ck: &mut Checker,
    target: &Located<Node>,
    f: &super::Fields,
    ctx: &mut StepCtx,
) -> Option<Call> {
    let to = graph::target(ck, "call", target);
    let unknown = Target {
        service: String::new(),
        endpoint: String::new(),
    };
    let mut c = defaults::call(unknown, ctx.settings);
    policy::call_policies(ck, f, &mut c);
    if let Some(v) = f.get("timeout") {
        c.timeout = ck.positive_duration("timeout", v).unwrap_or(c.timeout);
    }
    if let Some(v) = f.get("retries") {
        c.retries = ck
            .parse("retries", v, values::COUNT, values::count)
            .unwrap_or(0);
    }
    if let Some(v) = f.get("backoff") {
        c.backoff = ck.parse("backoff", v, values::DIST, values::dist);
    }
    if let Some(v) = f.get("probability") {
        c.probability = ck
            .parse("probability", v, values::PERCENT, values::percent)
            .unwrap_or(1.0);
    }
    if let Some(v) = f.get("times") {
        c.times = ck.positive_count("times", v).unwrap_or(1);
    }
    if let Some(v) = f.get("request") {
        c.request = ck
            .parse("request", v, values::SIZE, values::size)
            .unwrap_or(0);
    }
    if let Some(v) = f.get("on_error") {
        let options = [("fail", OnError::Fail), ("continue", OnError::Continue)];
        c.on_error = ck.choice("on_error", v, &options).unwrap_or(c.on_error);
    }
    let to = to?;
    c.service = to.service.clone();
    c.endpoint = to.endpoint.clone();
    let site = Located {
        value: (),
        loc: target.loc,
        set_by: target.set_by.clone(),
    };
    ctx.refs.push(Ref {
        from: Some(ctx.from.clone()),
        to,
        site,
    });
    Some(c)
}

/// `parallel:` is a list of branches; a branch is one step (a map) or a
/// list of steps.
fn parallel(ck: &mut Checker, node: &Located<Node>, ctx: &mut StepCtx) -> Option<Vec<Vec<Step>>> {
    let Node::Seq(branches) = &node.value else {
        ck.push(
            error_at(
                format!(
                    "`parallel` should be a list of branches, found {}",
                    node.value.describe()
                ),
                node,
            )
            .help("write one branch per `- ` item: a step, or a list of steps"),
        );
        return None;
    };
    if branches.is_empty() {
        ck.push(error_at("`parallel` has no branches", node).help("add at least one branch"));
        return None;
    }
    let mut out = Vec::new();
    for b in branches {
        match &b.value {
            Node::Seq(_) => out.push(steps(ck, b, ctx)),
            _ => out.push(step(ck, b, ctx).into_iter().collect()),
        }
    }
    Some(out)
}
