//! `traces.jsonl` read as the OTLP/JSON it is, independently of topolab's
//! reader: every span as JSON, and a span's attribute by key.

use std::path::Path;

use serde_json::Value;

/// Every span of `folder`'s `traces.jsonl` (one `TracesData` per line).
pub fn spans(folder: &Path) -> Vec<Value> {
    std::fs::read_to_string(folder.join("traces.jsonl"))
        .expect("traces.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("OTLP/JSON"))
        .flat_map(|mut t| match t["resourceSpans"].take() {
            Value::Array(r) => r,
            _ => Vec::new(),
        })
        .flat_map(|mut r| match r["scopeSpans"].take() {
            Value::Array(s) => s,
            _ => Vec::new(),
        })
        .flat_map(|mut s| match s["spans"].take() {
            Value::Array(sp) => sp,
            _ => Vec::new(),
        })
        .collect()
}

/// The OTLP `AnyValue` of span `sp`'s attribute `key`.
pub fn attr(sp: &Value, key: &str) -> Option<Value> {
    sp["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| a["value"].clone())
}
