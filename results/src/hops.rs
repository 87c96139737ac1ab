//! Where a request's time went, hop by hop, from `traces.json` (OTLP/JSON):
//! per service, the mean of its SERVER spans' queue wait, work, time waiting
//! on downstream calls, and the rest (gRPC, scheduling), as the replicas
//! recorded them in the `topolab.*_ns` attributes.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// One service's mean split, in milliseconds per request it served.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HopSplit {
    pub spans: u64,
    pub queue_ms: f64,
    pub work_ms: f64,
    pub downstream_ms: f64,
    pub other_ms: f64,
}

/// Reads `traces.json` and splits each service's time.
pub fn read(path: &Path) -> anyhow::Result<BTreeMap<String, HopSplit>> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    Ok(split(&v))
}

/// The split of every service with SERVER spans in an
/// `ExportTraceServiceRequest` in JSON.
pub fn split(v: &Value) -> BTreeMap<String, HopSplit> {
    let mut sums: BTreeMap<String, (u64, [f64; 4])> = BTreeMap::new();
    let spans = v["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rs| rs["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|ss| ss["spans"].as_array().into_iter().flatten());
    for span in spans {
        let attrs = attributes(span);
        let (Some(service), Some(queue)) = (
            attrs
                .get("topolab.service")
                .copied()
                .and_then(Value::as_str),
            attrs.get("topolab.queue_wait_ns").copied().and_then(number),
        ) else {
            continue;
        };
        let work = attrs
            .get("topolab.work_ns")
            .copied()
            .and_then(number)
            .unwrap_or(0.0);
        let down = attrs
            .get("topolab.downstream_ns")
            .copied()
            .and_then(number)
            .unwrap_or(0.0);
        let total = number(&span["endTimeUnixNano"]).unwrap_or(0.0)
            - number(&span["startTimeUnixNano"]).unwrap_or(0.0);
        let other = (total - queue - work - down).max(0.0);
        let e = sums.entry(service.to_string()).or_default();
        e.0 += 1;
        for (s, x) in e.1.iter_mut().zip([queue, work, down, other]) {
            *s += x;
        }
    }
    sums.into_iter()
        .map(|(svc, (n, s))| {
            let mean = |x: f64| x / n as f64 / 1e6;
            (
                svc,
                HopSplit {
                    spans: n,
                    queue_ms: mean(s[0]),
                    work_ms: mean(s[1]),
                    downstream_ms: mean(s[2]),
                    other_ms: mean(s[3]),
                },
            )
        })
        .collect()
}

fn attributes(span: &Value) -> BTreeMap<&str, &Value> {
    span["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let v = &kv["value"];
            let inner = ["stringValue", "intValue", "doubleValue"]
                .iter()
                .find_map(|k| v.get(*k))?;
            Some((kv["key"].as_str()?, inner))
        })
        .collect()
}

/// OTLP/JSON writes 64-bit integers as strings; accept both.
fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_server_spans_per_service() {
        let v = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"startTimeUnixNano": "1000000", "endTimeUnixNano": "11000000", "attributes": [
                {"key": "topolab.service", "value": {"stringValue": "db"}},
                {"key": "topolab.queue_wait_ns", "value": {"intValue": "2000000"}},
                {"key": "topolab.work_ns", "value": {"intValue": 7000000}},
                {"key": "topolab.downstream_ns", "value": {"intValue": "0"}}]},
            {"startTimeUnixNano": "0", "endTimeUnixNano": "5", "attributes": [
                {"key": "topolab.callee", "value": {"stringValue": "db/Q"}}]}
        ]}]}]});
        let s = split(&v);
        assert_eq!(s.len(), 1);
        let db = &s["db"];
        assert_eq!(db.spans, 1);
        assert!((db.queue_ms - 2.0).abs() < 1e-9 && (db.work_ms - 7.0).abs() < 1e-9);
        assert!((db.other_ms - 1.0).abs() < 1e-9);
    }
}
