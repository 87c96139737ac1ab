//! A span written straight into its OTLP protobuf bytes (the `Span` message
//! of `opentelemetry/proto/trace/v1/trace.proto`), with no intermediate
//! `KeyValue`/`AnyValue` structs: a traced request costs one buffer, where
//! building the prost types took a few dozen allocations per span (a key and
//! a value `String` per attribute), most of the exporter's CPU at saturation.

use std::fmt::Write as _;
use std::time::Instant;

use prost::encoding::{WireType, encoded_len_varint};
use tonic::Code;

use super::clock;
use super::context::SpanContext;
use super::span::{Value, keys};

/// `Span` fields (trace.proto).
mod span {
    pub const TRACE_ID: u32 = 1;
    pub const SPAN_ID: u32 = 2;
    pub const PARENT_SPAN_ID: u32 = 4;
    pub const NAME: u32 = 5;
    pub const KIND: u32 = 6;
    pub const START: u32 = 7;
    pub const END: u32 = 8;
    pub const ATTRIBUTES: u32 = 9;
    pub const EVENTS: u32 = 11;
    pub const STATUS: u32 = 15;
    pub const FLAGS: u32 = 16;
}

/// OTLP `SpanKind` values.
const KIND_SERVER: u64 = 2;
const KIND_CLIENT: u64 = 3;
/// OTLP `StatusCode::Error`.
const STATUS_ERROR: u64 = 2;
/// A span's usual size (ids, name, a dozen attributes), so that most spans
/// fit their first buffer.
const TYPICAL: usize = 448;

thread_local! {
    /// The buffer the next span of this thread is written in: spans are
    /// written here and copied out (see [`EncodedSpan::recycle`]), so
    /// recording one allocates nothing once the thread has written its first.
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// One span's protobuf bytes, without the tag and length that place it in a
/// `ScopeSpans` (the exporter adds them when it batches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedSpan(pub(crate) Vec<u8>);

impl EncodedSpan {
    /// The bytes of the `Span` message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Hands the buffer back to this thread's next span once its bytes
    /// have been copied elsewhere.
    pub fn recycle(self) {
        let mut buf = self.0;
        buf.clear();
        SPARE.set(buf);
    }
}

/// Writes one span's fields in order; [`SpanWriter::finish`] closes it with
/// the outcome. Attributes and events may come in any number.
pub struct SpanWriter {
    buf: Vec<u8>,
    sampled: bool,
    /// The outcome's attributes are written (see [`SpanWriter::outcome`]).
    outcome: bool,
}

impl SpanWriter {
    /// A span of `kind` (`true`: SERVER, else CLIENT) from `start` to `end`,
    /// named by the concatenation of `name` (parts, so that
    /// `service/endpoint` needs no `format!`).
    pub fn new(
        ctx: &SpanContext,
        parent: Option<[u8; 8]>,
        server: bool,
        name: &[&str],
        start: Instant,
        end: Instant,
    ) -> Self {
        let mut buf = SPARE.take();
        buf.reserve(TYPICAL);
        bytes_field(&mut buf, span::TRACE_ID, &ctx.trace_id);
        bytes_field(&mut buf, span::SPAN_ID, &ctx.span_id);
        if let Some(p) = parent {
            bytes_field(&mut buf, span::PARENT_SPAN_ID, &p);
        }
        let name_len = name.iter().map(|s| s.len()).sum::<usize>();
        if name_len > 0 {
            field_key(span::NAME, WireType::LengthDelimited, &mut buf);
            varint(name_len as u64, &mut buf);
            for part in name {
                buf.extend_from_slice(part.as_bytes());
            }
        }
        field_key(span::KIND, WireType::Varint, &mut buf);
        varint(if server { KIND_SERVER } else { KIND_CLIENT }, &mut buf);
        fixed64_field(&mut buf, span::START, clock::unix_nanos(start));
        fixed64_field(&mut buf, span::END, clock::unix_nanos(end));
        SpanWriter {
            buf,
            sampled: ctx.sampled,
            outcome: false,
        }
    }

    /// A string attribute.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        attr(&mut self.buf, span::ATTRIBUTES, key, Any::Str(value));
        self
    }

    /// An integer attribute.
    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        attr(&mut self.buf, span::ATTRIBUTES, key, Any::Int(value));
        self
    }

    /// An attribute of either kind.
    pub fn attr(&mut self, key: &str, value: &Value) -> &mut Self {
        attr(&mut self.buf, span::ATTRIBUTES, key, value.into());
        self
    }

    /// A timed event named `name` with attributes.
    pub fn event(&mut self, at: Instant, name: &str, attrs: &[(&str, Value)]) -> &mut Self {
        // Event: time_unix_nano (1, fixed64), name (2), attributes (3).
        let len = 1
            + 8
            + str_len(name)
            + attrs
                .iter()
                .map(|(k, v)| delimited_len(kv_len(k, v.into())))
                .sum::<usize>();
        field_key(span::EVENTS, WireType::LengthDelimited, &mut self.buf);
        varint(len as u64, &mut self.buf);
        fixed64_field(&mut self.buf, 1, clock::unix_nanos(at));
        str_field(&mut self.buf, 2, name);
        for (k, v) in attrs {
            attr(&mut self.buf, 3, k, v.into());
        }
        self
    }

    /// The last attributes, `rpc.system` and `rpc.grpc.status_code`. Called
    /// before any event, it keeps the bytes exactly prost's (attributes
    /// before events); otherwise `finish` writes them.
    pub fn outcome(&mut self, code: Code) -> &mut Self {
        if !self.outcome {
            self.outcome = true;
            self.str("rpc.system", "grpc");
            self.int(keys::GRPC_STATUS, code as i64);
        }
        self
    }

    /// Closes the span with the gRPC outcome: its attributes (unless
    /// [`outcome`](Self::outcome) wrote them) and an ERROR status carrying
    /// `message` unless `code` is OK (the fields [`SpanBuilder::into_otlp`]
    /// writes, in the same order).
    ///
    /// [`SpanBuilder::into_otlp`]: super::SpanBuilder::into_otlp
    pub fn finish(mut self, code: Code, message: &str) -> EncodedSpan {
        self.outcome(code);
        field_key(span::STATUS, WireType::LengthDelimited, &mut self.buf);
        if code == Code::Ok {
            varint(0, &mut self.buf);
        } else {
            let mut text = String::with_capacity(24 + message.len());
            // Cannot fail: writing to a String.
            let _ = write!(text, "{code:?}: {message}");
            // Status: message (2), code (3).
            let len = str_len(&text) + 1 + encoded_len_varint(STATUS_ERROR);
            varint(len as u64, &mut self.buf);
            str_field(&mut self.buf, 2, &text);
            field_key(3, WireType::Varint, &mut self.buf);
            varint(STATUS_ERROR, &mut self.buf);
        }
        // Last, as prost writes it (by tag), so the bytes are prost's.
        if self.sampled {
            field_key(span::FLAGS, WireType::ThirtyTwoBit, &mut self.buf);
            self.buf.extend_from_slice(&1u32.to_le_bytes());
        }
        EncodedSpan(self.buf)
    }
}

/// A varint: one byte for the small numbers keys and lengths nearly always
/// are, inlined (prost's general encoder, called for each, was a tenth of
/// what tracing adds to a replica's CPU).
#[inline(always)]
fn varint(v: u64, buf: &mut Vec<u8>) {
    match u8::try_from(v) {
        Ok(b) if b < 0x80 => buf.push(b),
        _ => prost::encoding::encode_varint(v, buf),
    }
}

/// A field's key: its number and wire type.
#[inline(always)]
fn field_key(tag: u32, wire: WireType, buf: &mut Vec<u8>) {
    varint(u64::from(tag << 3 | wire as u32), buf);
}

fn bytes_field(buf: &mut Vec<u8>, tag: u32, v: &[u8]) {
    field_key(tag, WireType::LengthDelimited, buf);
    varint(v.len() as u64, buf);
    buf.extend_from_slice(v);
}

/// A proto3 string field: left out when empty, as prost does.
fn str_field(buf: &mut Vec<u8>, tag: u32, v: &str) {
    if !v.is_empty() {
        bytes_field(buf, tag, v.as_bytes());
    }
}

fn fixed64_field(buf: &mut Vec<u8>, tag: u32, v: u64) {
    field_key(tag, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&v.to_le_bytes());
}

/// Bytes of a length-delimited field of `len` bytes whose tag is under 16
/// (a one-byte key), as every nested field here is.
fn delimited_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn str_len(v: &str) -> usize {
    if v.is_empty() {
        0
    } else {
        delimited_len(v.len())
    }
}

/// An attribute's value as written (borrowed from a [`Value`] or the caller).
#[derive(Clone, Copy)]
enum Any<'a> {
    Str(&'a str),
    Int(i64),
}

impl<'a> From<&'a Value> for Any<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Str(s) => Any::Str(s),
            Value::Int(i) => Any::Int(*i),
        }
    }
}

// KeyValue: key (1), value (2): AnyValue { string_value (1) | int_value (3) }.

fn any_len(v: Any<'_>) -> usize {
    match v {
        // A member of a oneof is written even when empty.
        Any::Str(s) => delimited_len(s.len()),
        Any::Int(i) => 1 + encoded_len_varint(i as u64),
    }
}

fn kv_len(key: &str, v: Any<'_>) -> usize {
    str_len(key) + delimited_len(any_len(v))
}

fn attr(buf: &mut Vec<u8>, tag: u32, key: &str, v: Any<'_>) {
    field_key(tag, WireType::LengthDelimited, buf);
    varint(kv_len(key, v) as u64, buf);
    str_field(buf, 1, key);
    field_key(2, WireType::LengthDelimited, buf);
    varint(any_len(v) as u64, buf);
    match v {
        Any::Str(s) => bytes_field(buf, 1, s.as_bytes()),
        Any::Int(i) => {
            field_key(3, WireType::Varint, buf);
            // An int64 is its two's complement as a varint.
            varint(i as u64, buf);
        }
    }
}
