//! A JSON Schema of the topology format, for editors (completion, hover docs,
//! red squiggles before `validate`). Built from the same key lists that
//! validation uses, so it cannot offer a key that `validate` would refuse.
//! It checks shapes and spellings; `topolab validate` stays the authority
//! (references, cycles, limits).

use serde_json::{Map, Value, json};

use crate::check::keys::*;

const NUM: &str = r"[0-9]+(\.[0-9]+)?";

fn pattern(p: &str, description: &str) -> Value {
    json!({ "type": "string", "pattern": format!("^{p}$"), "description": description })
}

fn duration() -> String {
    format!(r"{NUM}\s*(us|µs|ms|s|m)")
}

fn dist() -> Value {
    let d = duration();
    pattern(
        &format!(r"({d}|(exp|uniform|normal|lognormal)\(\s*{d}(\s*,\s*{d})?\s*\))"),
        "a duration (`2ms`) or a distribution: exp(MEAN), uniform(LOW, HIGH), normal(MEAN, SD), lognormal(MEAN, SD)",
    )
}

fn rate() -> String {
    format!(r"{NUM}\s*/\s*(s|m)")
}

fn one_of(values: &[&str], description: &str) -> Value {
    json!({ "enum": values, "description": description })
}

fn count(description: &str) -> Value {
    json!({ "type": "integer", "minimum": 0, "description": description })
}

/// What one key holds, by name (names mean the same wherever they appear).
fn property(key: &str) -> Value {
    let dur = || pattern(&duration(), "a duration: 250us, 2ms, 1.5s, 2m");
    let size = || {
        pattern(
            &format!(r"{NUM}\s*(B|KiB|MiB|GiB)"),
            "a size: 0B, 512B, 4KiB, 1GiB",
        )
    };
    let percent = || pattern(&format!(r"{NUM}\s*%"), "a percentage: 1%, 0.5%");
    let policies = ["round_robin", "random", "least_requests", "p2c", "sticky"];
    match key {
        "name" | "description" | "backend" => json!({ "type": "string" }),
        "services" => {
            json!({ "type": "object", "propertyNames": { "pattern": "^[a-z][a-z0-9-]*$" },
                              "additionalProperties": object(SERVICE_KEYS), "description": "service name → service" })
        }
        "load" => json!({ "type": "object", "propertyNames": { "pattern": "^[a-z][a-z0-9-]*$" },
                          "additionalProperties": object(GENERATOR_KEYS), "description": "generator name → load generator" }),
        "faults" => json!({ "type": "array", "items": object(FAULT_KEYS) }),
        "settings" => object(SETTINGS_KEYS),
        "endpoints" => {
            json!({ "type": "object", "propertyNames": { "pattern": "^[A-Za-z][A-Za-z0-9_]*$" },
                               "additionalProperties": { "anyOf": [object(ENDPOINT_KEYS), { "type": "null" }] } })
        }
        "steps" | "session_miss" => json!({ "type": "array", "items": step_ref() }),
        "replicas" | "workers" | "times" | "retries" | "clients" | "sessions" | "min_calls"
        | "probes" => count(key),
        "seed" => json!({ "type": "integer", "minimum": 0 }),
        "queue" => {
            json!({ "oneOf": [count("requests that may wait per replica"), { "const": "unbounded" }] })
        }
        "discipline" => one_of(
            &["fifo", "lifo"],
            "which waiting request a freed worker takes",
        ),
        "model" => one_of(
            &["blocking", "async"],
            "blocking: a request holds its worker throughout; async: only during work",
        ),
        "balance" | "policy" => one_of(&policies, "how callers pick a replica"),
        "kind" => one_of(
            &["service", "balancer"],
            "a service, or a visible load-balancer hop",
        ),
        "state" => one_of(
            &["stateless", "sessions"],
            "whether replicas remember callers' sessions",
        ),
        "restart" => one_of(
            &["never", "always"],
            "what happens when a replica's process dies",
        ),
        "deadlines" => one_of(
            &["honor", "ignore"],
            "whether work whose caller gave up is dropped",
        ),
        "on_error" => one_of(
            &["fail", "continue"],
            "what a failed call does to the request",
        ),
        "arrivals" => one_of(
            &["poisson", "constant"],
            "how open-loop arrivals are spaced",
        ),
        "kill" | "pause" => json!({ "type": "boolean" }),
        "timeout" | "duration" | "start" | "for" | "at" | "sample_every" | "window"
        | "open_for" | "warmup" => dur(),
        "poll" => pattern(&duration(), "each client asks every INTERVAL (a duration)"),
        "long_poll" => pattern(
            &duration(),
            "the server holds each request until a new version or this long",
        ),
        "subscribe" => {
            json!({ "type": "string", "description": "service/Endpoint: one server-streaming call per client, every new version pushed" })
        }
        "updates" => {
            let mut d = dist();
            d["description"] = json!("time between new versions of the service's data");
            d
        }
        "work" | "backoff" | "think" => dist(),
        "response" | "request" | "trace_budget" => size(),
        "jitter" => {
            json!({ "oneOf": [percent(), dur()], "description": "a backoff's jitter (a percentage) or a link's (a duration)" })
        }
        "network" => object(NETWORK_KEYS),
        "zones" => {
            json!({ "type": "object", "additionalProperties": { "type": "array", "items": { "type": "string" } },
                           "description": "zone name → its services" })
        }
        "links" => json!({ "type": "object", "additionalProperties": object(SHAPE_KEYS),
                           "description": "`a -> b` or `a <-> b` (services, name#i, zones, *) → what the link does" }),
        "link" => {
            json!({ "type": "string", "description": "caller -> callee, or a <-> b: services, replicas name#i, zones or *" })
        }
        "delay" => {
            let mut d = dist();
            d["description"] = json!("added to every packet one way: a duration or a distribution");
            d
        }
        "loss" => percent(),
        "bandwidth" => pattern(
            &format!(r"{NUM}\s*(bit|kbit|mbit|gbit)"),
            "a rate: 100kbit, 1mbit, 1gbit",
        ),
        "partition" => json!({ "type": "boolean" }),
        "probability" | "retry_budget" | "trace" | "failures" => {
            if key == "retry_budget" {
                json!({ "oneOf": [percent(), { "const": "none" }] })
            } else {
                percent()
            }
        }
        "slow" | "backoff_multiplier" => pattern(&format!(r"{NUM}\s*x"), "a factor: 10x"),
        "errors" => pattern(
            &format!(r"{NUM}\s*%\s+[A-Z_]+"),
            "PERCENT STATUS, e.g. `1% UNAVAILABLE`",
        ),
        "rate" => pattern(
            &format!(r"{r}(\s*->\s*{r})?", r = rate()),
            "a rate (4/s, 300/m) or a ramp (1/s -> 20/s)",
        ),
        "mix" => {
            json!({ "type": "object", "additionalProperties": percent(), "description": "service/Endpoint → share" })
        }
        "stages" => json!({ "type": "array", "items": object(STAGE_KEYS) }),
        "breaker" => object(BREAKER_KEYS),
        "target" | "call" => {
            json!({ "type": "string", "description": "service/Endpoint (a fault's target: a service or name#i)" })
        }
        "parallel" => json!({ "type": "array",
                              "items": { "oneOf": [step_ref(), { "type": "array", "items": step_ref() }] } }),
        _ => json!({}),
    }
}

/// Steps nest (a `parallel` branch holds steps), so they are defined once.
fn step_ref() -> Value {
    json!({ "$ref": "#/$defs/step" })
}

/// A step: `work`, `call` (with its options) or `parallel`.
fn step() -> Value {
    let mut keys: Vec<&str> = vec!["work", "parallel"];
    keys.extend_from_slice(CALL_KEYS);
    object(&keys)
}

/// An object that takes exactly `keys`.
fn object(keys: &[&str]) -> Value {
    let properties: Map<String, Value> =
        keys.iter().map(|k| (k.to_string(), property(k))).collect();
    json!({ "type": "object", "properties": properties, "additionalProperties": false })
}

/// The whole schema (JSON Schema draft 2020-12).
pub fn json_schema() -> Value {
    let mut top = object(TOP_KEYS);
    top["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    top["title"] = json!("topolab topology (format version 1)");
    top["required"] = json!(["name", "services"]);
    top["$defs"] = json!({ "step": step() });
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut k: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    }

    #[test]
    fn every_key_validation_accepts_has_a_typed_property() {
        let s = json_schema();
        assert_eq!(keys_of(&s), sorted(TOP_KEYS));
        let service = &s["properties"]["services"]["additionalProperties"];
        assert_eq!(keys_of(service), sorted(SERVICE_KEYS));
        for k in SERVICE_KEYS
            .iter()
            .chain(GENERATOR_KEYS)
            .chain(CALL_KEYS)
            .chain(FAULT_KEYS)
            .chain(SETTINGS_KEYS)
            .chain(STAGE_KEYS)
            .chain(BREAKER_KEYS)
            .chain(ENDPOINT_KEYS)
        {
            assert_ne!(property(k), json!({}), "`{k}` has no type in the schema");
        }
    }
}
