//! Zipkin v2 JSON: an array of spans (`traceId`, `id`, `parentId`, `kind`,
//! `timestamp` and `duration` in µs, `localEndpoint.serviceName`,
//! `remoteEndpoint.serviceName`, `tags`), read one span at a time. A
//! server span that shares its client's id (`shared: true`, B3's one-span
//! RPC) is given an id of its own under the client's.

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use topolab_results::trace::{Kind, Span};

use super::{Input, Loc, Sink, tag_code, tag_kind};
use crate::error::ImportError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    timestamp: u64,
    #[serde(default)]
    duration: u64,
    #[serde(default)]
    local_endpoint: Option<Endpoint>,
    #[serde(default)]
    remote_endpoint: Option<Endpoint>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    shared: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    ipv4: Option<String>,
    #[serde(default)]
    port: Option<u16>,
}

/// Reads the array, one span at a time.
pub fn read(
    path: &Path,
    reader: Box<dyn BufRead>,
    input: &Input<'_>,
    sink: &mut dyn Sink,
) -> Result<(), ImportError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    Spans { input, sink }
        .deserialize(&mut de)
        .map_err(|e| ImportError::Parse {
            path: path.to_path_buf(),
            line: e.line() as u64,
            why: format!("not a Zipkin v2 JSON array of spans: {e}"),
        })
}

struct Spans<'a, 'b> {
    input: &'a Input<'b>,
    sink: &'a mut dyn Sink,
}

impl<'de> DeserializeSeed<'de> for Spans<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Spans<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of Zipkin spans")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0u64;
        while let Some(z) = seq.next_element::<ZSpan>()? {
            i += 1;
            let at = Loc {
                file: self.input.file,
                line: i,
                item: true,
            };
            self.sink.span(span(z), at);
        }
        Ok(())
    }
}

fn span(z: ZSpan) -> Span {
    let local = z.local_endpoint.unwrap_or_default();
    let service = local
        .service_name
        .clone()
        .unwrap_or_else(|| "unknown".into());
    // An instance named in the tags (as `trace --format zipkin` and the
    // OpenTelemetry exporters write it) before the endpoint's address.
    let process = match (z.tags.get("service.instance.id"), &local.ipv4, local.port) {
        (Some(instance), _, _) => instance.clone(),
        (None, Some(ip), Some(port)) => format!("{ip}:{port}"),
        (None, Some(ip), None) => ip.clone(),
        _ => service.clone(),
    };
    let mut attributes = z.tags;
    if let Some(remote) = z.remote_endpoint.and_then(|r| r.service_name) {
        attributes.entry("peer.service".into()).or_insert(remote);
    }
    let kind = z.kind.as_deref().map_or(Kind::Other, tag_kind);
    let (span_id, parent_id) = if z.shared && kind == Kind::Server {
        (format!("{}-server", z.id), Some(z.id))
    } else {
        (z.id, z.parent_id)
    };
    let split = super::tag_split(&attributes);
    let (endpoint, callee, callee_replica, attempt) = super::tag_names(&attributes);
    Span {
        trace_id: z.trace_id,
        span_id,
        parent_id,
        name: z.name,
        kind,
        service,
        process,
        endpoint,
        callee,
        callee_replica,
        attempt,
        start_ns: z.timestamp * 1000,
        end_ns: (z.timestamp + z.duration) * 1000,
        code: tag_code(&attributes),
        message: String::new(),
        queue_ns: split[0],
        work_ns: split[1],
        downstream_ns: split[2],
        held_ns: split[3].filter(|&h| h > 0),
        attributes,
    }
}
