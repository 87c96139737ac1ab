//! `traces.json`: everything the collector received, as one OTLP/JSON
//! `ExportTraceServiceRequest` (hex ids, integer enums), with the batches of
//! each process merged under one resource and scope so the file stays small.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

/// The file name in the run folder.
pub const TRACES_JSON: &str = "traces.json";

/// Merges batches that share a resource, then scope.
pub fn merge(batches: Vec<ResourceSpans>) -> ExportTraceServiceRequest {
    let mut out: Vec<ResourceSpans> = Vec::new();
    let mut by_resource: HashMap<String, usize> = HashMap::new();
    for rs in batches {
        let key = serde_json::to_string(&(&rs.resource, &rs.schema_url)).unwrap_or_default();
        match by_resource.get(&key) {
            Some(&i) => merge_scopes(&mut out[i].scope_spans, rs.scope_spans),
            None => {
                by_resource.insert(key, out.len());
                let ResourceSpans {
                    resource,
                    scope_spans,
                    schema_url,
                } = rs;
                let mut first = ResourceSpans {
                    resource,
                    scope_spans: Vec::new(),
                    schema_url,
                };
                merge_scopes(&mut first.scope_spans, scope_spans);
                out.push(first);
            }
        }
    }
    ExportTraceServiceRequest {
        resource_spans: out,
    }
}

fn merge_scopes(into: &mut Vec<ScopeSpans>, more: Vec<ScopeSpans>) {
    for ss in more {
        let same = into
            .iter_mut()
            .find(|s| s.scope == ss.scope && s.schema_url == ss.schema_url);
        match same {
            Some(s) => s.spans.extend(ss.spans),
            None => into.push(ss),
        }
    }
}

/// Writes `traces.json` into `dir`.
pub fn write(dir: &Path, request: &ExportTraceServiceRequest) -> anyhow::Result<()> {
    let path = dir.join(TRACES_JSON);
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, request).context("encoding traces.json")?;
    w.write_all(b"\n")?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}
