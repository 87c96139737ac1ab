//! The spans waiting for one `Export` call, kept as the protobuf bytes they
//! will travel as ([`Spans`]), and the `ExportTraceServiceRequest` framed
//! around them ([`Frame`]: this process's resource and scope, encoded once):
//! sending a batch copies bytes once and clones nothing per span or per
//! endpoint.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use prost::bytes::Bytes;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

/// `ScopeSpans.spans`, `ScopeSpans.scope`, `ResourceSpans.resource`,
/// `ResourceSpans.scope_spans`, `ExportTraceServiceRequest.resource_spans`.
const SPANS: u32 = 2;
const SCOPE: u32 = 1;
const RESOURCE: u32 = 1;
const SCOPE_SPANS: u32 = 2;
const RESOURCE_SPANS: u32 = 1;

/// This process's `Resource` and `InstrumentationScope`, encoded once: the
/// frame every batch of spans is sent in.
pub struct Frame {
    resource: Vec<u8>,
    scope: Vec<u8>,
}

impl Frame {
    /// The frame of a process described by `resource` and `scope`.
    pub fn new(resource: &Resource, scope: &InstrumentationScope) -> Self {
        Frame {
            resource: resource.encode_to_vec(),
            scope: scope.encode_to_vec(),
        }
    }

    /// The encoded `ExportTraceServiceRequest` of `spans` (one
    /// `ResourceSpans` with one `ScopeSpans`).
    pub fn request(&self, spans: &Spans) -> Bytes {
        let scope_spans = delimited_len(self.scope.len()) + spans.bytes.len();
        let resource_spans = delimited_len(self.resource.len()) + delimited_len(scope_spans);
        let mut out = Vec::with_capacity(delimited_len(resource_spans));
        encode_key(RESOURCE_SPANS, WireType::LengthDelimited, &mut out);
        encode_varint(resource_spans as u64, &mut out);
        encode_key(RESOURCE, WireType::LengthDelimited, &mut out);
        encode_varint(self.resource.len() as u64, &mut out);
        out.extend_from_slice(&self.resource);
        encode_key(SCOPE_SPANS, WireType::LengthDelimited, &mut out);
        encode_varint(scope_spans as u64, &mut out);
        encode_key(SCOPE, WireType::LengthDelimited, &mut out);
        encode_varint(self.scope.len() as u64, &mut out);
        out.extend_from_slice(&self.scope);
        out.extend_from_slice(&spans.bytes);
        Bytes::from(out)
    }
}

/// Spans in `ScopeSpans.spans` field form, appended as they come.
#[derive(Debug, Default)]
pub struct Spans {
    bytes: Vec<u8>,
    len: usize,
}

impl Spans {
    /// Spans held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no span is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one span (its `Span` message bytes).
    pub fn push(&mut self, bytes: &[u8]) {
        encode_key(SPANS, WireType::LengthDelimited, &mut self.bytes);
        encode_varint(bytes.len() as u64, &mut self.bytes);
        self.bytes.extend_from_slice(bytes);
        self.len += 1;
    }

    /// Empties the spans, keeping the buffer's capacity for the next ones.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.len = 0;
    }
}

/// Bytes of a length-delimited field of `len` bytes with a one-byte key.
fn delimited_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::SpanContext;
    use crate::trace::span::{Kind, SpanBuilder, Value, kv};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
    use std::time::Instant;

    #[test]
    fn the_request_is_the_one_prost_would_encode() {
        let resource = Resource {
            attributes: vec![kv("service.name", Value::Str("echo".into()))],
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "topolab".into(),
            version: "0.1.0".into(),
            ..Default::default()
        };
        let frame = Frame::new(&resource, &scope);
        let mut batch = Spans::default();
        let t = Instant::now();
        let spans: Vec<SpanBuilder> = (0..3)
            .map(|i| {
                SpanBuilder::new(
                    SpanContext::new_root(true),
                    None,
                    Kind::Server,
                    "echo/Echo".repeat(i * 20),
                    t,
                    t,
                )
                .int("i", i as i64)
            })
            .collect();
        for s in &spans {
            batch.push(s.encode().as_bytes());
        }
        assert_eq!(batch.len(), 3);
        let bytes = frame.request(&batch);
        let expected = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope),
                    spans: spans.into_iter().map(SpanBuilder::into_otlp).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(
            ExportTraceServiceRequest::decode(bytes.clone()).unwrap(),
            expected
        );
        assert_eq!(bytes, expected.encode_to_vec());
    }
}
