//! Jaeger JSON, as its UI downloads a search: `{"data": [trace, ...]}`,
//! each trace with `spans` (ids, `references`, `startTime` and `duration`
//! in µs, `tags`, `processID`) and `processes` (`serviceName`, `tags`).
//! The `data` array is read one trace at a time, so memory holds one trace.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use topolab_results::trace::{Kind, Span};

use super::{Input, Loc, Sink, tag_code, tag_kind, tag_text};
use crate::error::ImportError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trace {
    #[serde(default)]
    spans: Vec<JSpan>,
    #[serde(default)]
    processes: HashMap<String, Process>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JSpan {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(default)]
    operation_name: String,
    #[serde(default)]
    references: Vec<Reference>,
    start_time: u64,
    duration: u64,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(rename = "processID", default)]
    process_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reference {
    #[serde(default)]
    ref_type: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Deserialize)]
struct Tag {
    key: String,
    value: serde_json::Value,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Process {
    #[serde(default)]
    service_name: String,
    #[serde(default)]
    tags: Vec<Tag>,
}

fn tags(t: &[Tag]) -> BTreeMap<String, String> {
    t.iter()
        .filter_map(|t| Some((t.key.clone(), tag_text(&t.value)?)))
        .collect()
}

/// Reads the document, one trace of `data` at a time.
pub fn read(
    path: &Path,
    reader: Box<dyn BufRead>,
    input: &Input<'_>,
    sink: &mut dyn Sink,
) -> Result<(), ImportError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    Document { input, sink }
        .deserialize(&mut de)
        .map_err(|e| ImportError::Parse {
            path: path.to_path_buf(),
            line: e.line() as u64,
            why: format!("not a Jaeger JSON document (`{{\"data\": [{{\"spans\": ...}}]}}`): {e}"),
        })
}

struct Document<'a, 'b> {
    input: &'a Input<'b>,
    sink: &'a mut dyn Sink,
}

impl<'de> DeserializeSeed<'de> for Document<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Jaeger JSON object with `data`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "data" {
                map.next_value_seed(Traces {
                    input: self.input,
                    sink: &mut *self.sink,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Traces<'a, 'b> {
    input: &'a Input<'b>,
    sink: &'a mut dyn Sink,
}

impl<'de> DeserializeSeed<'de> for Traces<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Traces<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of traces")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0u64;
        while let Some(t) = seq.next_element::<Trace>()? {
            i += 1;
            let at = Loc {
                file: self.input.file,
                line: i,
                item: true,
            };
            for s in t.spans {
                let p = t.processes.get(&s.process_id);
                let ptags = p.map(|p| tags(&p.tags)).unwrap_or_default();
                let service = p.map_or("unknown", |p| p.service_name.as_str()).to_string();
                let attrs = tags(&s.tags);
                let process = ptags
                    .get("service.instance.id")
                    .or(ptags.get("hostname"))
                    .or(ptags.get("ip"))
                    .cloned()
                    .unwrap_or_else(|| service.clone());
                let parent = s
                    .references
                    .iter()
                    .find(|r| r.ref_type.eq_ignore_ascii_case("CHILD_OF"))
                    .or(s.references.first())
                    .map(|r| r.span_id.clone());
                let split = super::tag_split(&attrs);
                let (endpoint, callee, callee_replica, attempt) = super::tag_names(&attrs);
                let span = Span {
                    trace_id: s.trace_id,
                    span_id: s.span_id,
                    parent_id: parent,
                    name: s.operation_name,
                    kind: attrs.get("span.kind").map_or(Kind::Other, |k| tag_kind(k)),
                    service,
                    process,
                    endpoint,
                    callee,
                    callee_replica,
                    attempt,
                    start_ns: s.start_time * 1000,
                    end_ns: (s.start_time + s.duration) * 1000,
                    code: tag_code(&attrs),
                    message: String::new(),
                    queue_ns: split[0],
                    work_ns: split[1],
                    downstream_ns: split[2],
                    held_ns: split[3].filter(|&h| h > 0),
                    attributes: attrs,
                };
                self.sink.span(span, at);
            }
        }
        Ok(())
    }
}
