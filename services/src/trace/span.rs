//! A span as the request path records it: ids, kind, two instants and a few
//! attributes, cheap to build. The exporter takes it as protobuf bytes
//! ([`SpanBuilder::encode`]); [`SpanBuilder::into_otlp`] gives the prost
//! `Span` for code that wants the struct.

use std::borrow::Cow;
use std::time::Instant;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{Span, Status, status::StatusCode};
use tonic::Code;

use super::clock;
use super::context::SpanContext;
use super::encode::{EncodedSpan, SpanWriter};

/// Attribute keys topolab writes; `topolab trace` and the report read the
/// same constants back.
pub use topolab_proto::span_keys as keys;

/// A value of an attribute: constant strings are borrowed, not copied, on
/// the request path.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Cow<'static, str>),
    Int(i64),
}

/// SERVER (serving a request) or CLIENT (calling another service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Server,
    Client,
}

/// A timed event inside a span: when, its name, its attributes.
pub type SpanEvent = (Instant, String, Vec<(&'static str, Value)>);

/// A finished span, not yet converted to OTLP.
#[derive(Debug, Clone)]
pub struct SpanBuilder {
    pub ctx: SpanContext,
    pub parent: Option<[u8; 8]>,
    pub name: String,
    pub kind: Kind,
    pub start: Instant,
    pub end: Instant,
    pub code: Code,
    pub message: String,
    pub attrs: Vec<(&'static str, Value)>,
    /// Timed events inside the span (a subscription's pushed versions).
    pub events: Vec<SpanEvent>,
}

impl SpanBuilder {
    /// A span of `kind` named `name` from `start` to `end`, OK so far.
    pub fn new(
        ctx: SpanContext,
        parent: Option<[u8; 8]>,
        kind: Kind,
        name: String,
        start: Instant,
        end: Instant,
    ) -> Self {
        SpanBuilder {
            ctx,
            parent,
            name,
            kind,
            start,
            end,
            code: Code::Ok,
            message: String::new(),
            attrs: Vec::with_capacity(10),
            events: Vec::new(),
        }
    }

    /// Adds a string attribute (a `&'static str` is not copied).
    pub fn str(mut self, key: &'static str, v: impl Into<Cow<'static, str>>) -> Self {
        self.attrs.push((key, Value::Str(v.into())));
        self
    }

    /// Adds an integer attribute.
    pub fn int(mut self, key: &'static str, v: i64) -> Self {
        self.attrs.push((key, Value::Int(v)));
        self
    }

    /// Adds an event named `name` at `at` with integer attributes.
    pub fn event(mut self, at: Instant, name: &str, attrs: Vec<(&'static str, i64)>) -> Self {
        let attrs = attrs.into_iter().map(|(k, v)| (k, Value::Int(v))).collect();
        self.events.push((at, name.to_string(), attrs));
        self
    }

    /// Sets the gRPC outcome (a non-OK code makes the span's status ERROR).
    pub fn status(mut self, code: Code, message: &str) -> Self {
        self.code = code;
        self.message = message.to_string();
        self
    }

    /// The OTLP protobuf bytes of the span (what [`into_otlp`](Self::into_otlp)
    /// would encode to), written without building the prost structs.
    pub fn encode(&self) -> EncodedSpan {
        let mut w = SpanWriter::new(
            &self.ctx,
            self.parent,
            self.kind == Kind::Server,
            &[&self.name],
            self.start,
            self.end,
        );
        for (k, v) in &self.attrs {
            w.attr(k, v);
        }
        w.outcome(self.code);
        for (at, name, attrs) in &self.events {
            w.event(*at, name, attrs);
        }
        w.finish(self.code, &self.message)
    }

    /// The OTLP form: wall-clock times from this process's anchor.
    pub fn into_otlp(self) -> Span {
        let mut attributes: Vec<KeyValue> = self.attrs.into_iter().map(|(k, v)| kv(k, v)).collect();
        attributes.push(kv("rpc.system", Value::Str(Cow::Borrowed("grpc"))));
        attributes.push(kv(keys::GRPC_STATUS, Value::Int(self.code as i64)));
        let status = if self.code == Code::Ok {
            Status::default()
        } else {
            Status {
                code: StatusCode::Error as i32,
                message: format!("{:?}: {}", self.code, self.message),
            }
        };
        Span {
            trace_id: self.ctx.trace_id.to_vec(),
            span_id: self.ctx.span_id.to_vec(),
            parent_span_id: self.parent.map(|p| p.to_vec()).unwrap_or_default(),
            flags: u32::from(self.ctx.sampled),
            name: self.name,
            kind: match self.kind {
                Kind::Server => SpanKind::Server,
                Kind::Client => SpanKind::Client,
            } as i32,
            start_time_unix_nano: clock::unix_nanos(self.start),
            end_time_unix_nano: clock::unix_nanos(self.end),
            attributes,
            events: self
                .events
                .into_iter()
                .map(|(at, name, attrs)| Event {
                    time_unix_nano: clock::unix_nanos(at),
                    name,
                    attributes: attrs.into_iter().map(|(k, v)| kv(k, v)).collect(),
                    ..Default::default()
                })
                .collect(),
            status: Some(status),
            ..Default::default()
        }
    }
}

/// An OTLP attribute.
pub fn kv(key: &str, v: Value) -> KeyValue {
    let value = match v {
        Value::Str(s) => any_value::Value::StringValue(s.into_owned()),
        Value::Int(i) => any_value::Value::IntValue(i),
    };
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Nanoseconds as an attribute value.
pub fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use std::time::Duration;

    /// The hand-written bytes decode to exactly the prost `Span`, whatever
    /// the attributes, events and outcome.
    #[test]
    fn encode_matches_the_prost_form() {
        let t0 = Instant::now();
        let ctx = SpanContext::new_root(true);
        let spans = [
            SpanBuilder::new(ctx, None, Kind::Client, "a/B".into(), t0, t0),
            SpanBuilder::new(
                ctx.child(),
                Some(ctx.span_id),
                Kind::Server,
                "svc/Endpoint".into(),
                t0,
                t0 + Duration::from_millis(3),
            )
            .str(keys::REPLICA, String::from("svc#0"))
            .str("long", "x".repeat(300))
            .str("empty", "")
            .str("", "no key")
            .int(keys::QUEUE_NS, 0)
            .int(keys::WORK_NS, 1 << 40)
            .int("negative", -5)
            .event(t0, "version pushed", vec![(keys::VERSION, 7)])
            .event(t0, "", vec![])
            .status(Code::ResourceExhausted, "queue full é"),
        ];
        for s in spans {
            let bytes = s.encode();
            let decoded = Span::decode(bytes.as_bytes()).unwrap();
            assert_eq!(decoded, s.clone().into_otlp());
            assert_eq!(bytes.as_bytes(), s.into_otlp().encode_to_vec().as_slice());
        }
    }
}
