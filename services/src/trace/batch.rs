//! The spans waiting for one `Export` call, kept as the protobuf bytes they
//! will travel as ([`Spans`]), and the `ExportTraceServiceRequest` framed
//! around them ([`Frame`]: this process's resource and scope, encoded once).
//! A batch's buffer starts with room for the frame's head, which is written
//! there when the batch is sent: the request is the buffer itself, with no
//! copy of the spans and no second buffer of their size to allocate.

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

/// Bytes of a one-byte key and a varint length at most.
const KEY_AND_LEN: usize = 1 + 10;

/// This process's `Resource` and `InstrumentationScope`, encoded once: the
/// frame every batch of spans is sent in.
#[derive(Debug)]
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

    /// The room a batch keeps before its spans for this frame's head.
    pub fn head_room(&self) -> usize {
        4 * KEY_AND_LEN + self.resource.len() + self.scope.len()
    }

    /// The encoded `ExportTraceServiceRequest` of `spans` (one
    /// `ResourceSpans` with one `ScopeSpans`), in the batch's own buffer;
    /// `spans` was made with this frame's [`head_room`](Self::head_room).
    pub fn request(&self, spans: Spans) -> Bytes {
        let body = spans.bytes.len() - spans.room;
        let scope_spans = delimited_len(self.scope.len()) + body;
        let resource_spans = delimited_len(self.resource.len()) + delimited_len(scope_spans);
        let mut head = Vec::with_capacity(self.head_room());
        encode_key(RESOURCE_SPANS, WireType::LengthDelimited, &mut head);
        encode_varint(resource_spans as u64, &mut head);
        encode_key(RESOURCE, WireType::LengthDelimited, &mut head);
        encode_varint(self.resource.len() as u64, &mut head);
        head.extend_from_slice(&self.resource);
        encode_key(SCOPE_SPANS, WireType::LengthDelimited, &mut head);
        encode_varint(scope_spans as u64, &mut head);
        encode_key(SCOPE, WireType::LengthDelimited, &mut head);
        encode_varint(self.scope.len() as u64, &mut head);
        head.extend_from_slice(&self.scope);
        assert!(
            head.len() <= spans.room,
            "a batch made with less room than its frame's head_room"
        );
        let start = spans.room - head.len();
        let mut bytes = spans.bytes;
        bytes[start..spans.room].copy_from_slice(&head);
        Bytes::from(bytes).slice(start..)
    }
}

/// Spans in `ScopeSpans.spans` field form, appended as they come after the
/// room kept for the frame's head.
#[derive(Debug)]
pub struct Spans {
    bytes: Vec<u8>,
    /// Bytes kept before the first span.
    room: usize,
    len: usize,
}

impl Spans {
    /// An empty batch keeping `room` bytes for its frame's head, with room
    /// for `capacity` bytes of spans.
    pub fn new(room: usize, capacity: usize) -> Self {
        let mut bytes = Vec::with_capacity(room + capacity);
        bytes.resize(room, 0);
        Spans {
            bytes,
            room,
            len: 0,
        }
    }

    /// Spans held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no span is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the spans held.
    pub fn size(&self) -> usize {
        self.bytes.len() - self.room
    }

    /// Appends one span (its `Span` message bytes).
    pub fn push(&mut self, bytes: &[u8]) {
        encode_key(SPANS, WireType::LengthDelimited, &mut self.bytes);
        encode_varint(bytes.len() as u64, &mut self.bytes);
        self.bytes.extend_from_slice(bytes);
        self.len += 1;
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
        let mut batch = Spans::new(frame.head_room(), 0);
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
        let bytes = frame.request(batch);
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
