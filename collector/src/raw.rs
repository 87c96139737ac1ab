//! An `Export` request taken apart only as far as the writer needs: the
//! batches' resource and scope, and every span kept as the protobuf bytes it
//! came in (a message field read as `bytes` is the same on the wire; each
//! span a slice of the request's buffer, not a copy: a span written as it
//! arrives is never copied, and the writer copies out the few that wait
//! for their trace, so that none holds a whole request), with the few facts
//! the keeping policy decides on read straight from them.
//! Decoding every span into prost structs (a `String` per attribute key and
//! value) was most of the collector's CPU at saturation.

use prost::bytes::{Buf, Bytes};
use prost::encoding::{WireType, decode_varint};

/// `ExportTraceServiceRequest` with its `ResourceSpans` left mostly undecoded.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<RawResourceSpans>,
}

/// `ResourceSpans`: the resource as bytes (a `Resource` message).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawResourceSpans {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub resource: Option<Vec<u8>>,
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<RawScopeSpans>,
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `ScopeSpans`: the scope and each span as bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawScopeSpans {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub scope: Option<Vec<u8>>,
    #[prost(bytes = "bytes", repeated, tag = "2")]
    pub spans: Vec<Bytes>,
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

impl RawRequest {
    /// Spans in the request.
    pub fn spans(&self) -> usize {
        self.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }
}

/// What the keeping policy needs of one span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The trace id as a number (its last 16 bytes).
    pub trace: u128,
    /// No parent: the first span of its trace.
    pub root: bool,
    /// The span's id and its parent's (0 for none), as numbers.
    pub span_id: u64,
    pub parent_id: u64,
    /// A gRPC status other than OK (`rpc.grpc.status_code`), or, without
    /// that attribute, an OTLP ERROR status.
    pub failed: bool,
    pub start_ns: u64,
    pub end_ns: u64,
    /// How many spans name this one as parent (`topolab.children`), when
    /// the span says.
    pub children: Option<u32>,
}

/// The attribute topolab's spans carry their gRPC status in.
const GRPC_STATUS: &str = topolab_proto::span_keys::GRPC_STATUS;
const CHILDREN: &str = topolab_proto::span_keys::CHILDREN;
/// OTLP `StatusCode::Error`.
const STATUS_ERROR: u64 = 2;

/// Reads a span's facts; `None` when the bytes are not a valid `Span`.
pub fn facts(mut span: &[u8]) -> Option<Facts> {
    let mut f = Facts {
        root: true,
        ..Facts::default()
    };
    // The first gRPC status attribute decides, if its value reads as a code.
    let mut grpc: Option<Option<i64>> = None;
    let mut status_error = false;
    while span.has_remaining() {
        let (tag, wire) = next_field(&mut span)?;
        match (tag, wire) {
            (1, WireType::LengthDelimited) => f.trace = trace_key(delimited(&mut span)?),
            (2, WireType::LengthDelimited) => f.span_id = span_key(delimited(&mut span)?),
            (4, WireType::LengthDelimited) => {
                let parent = delimited(&mut span)?;
                f.root = parent.is_empty();
                f.parent_id = span_key(parent);
            }
            (7, WireType::SixtyFourBit) if span.remaining() >= 8 => f.start_ns = span.get_u64_le(),
            (8, WireType::SixtyFourBit) if span.remaining() >= 8 => f.end_ns = span.get_u64_le(),
            (9, WireType::LengthDelimited) => {
                let kv = delimited(&mut span)?;
                if !may_matter(kv) {
                    continue;
                }
                let (key, value) = key_value(kv)?;
                if key == GRPC_STATUS.as_bytes() && grpc.is_none() {
                    grpc = Some(int_value(value)?);
                } else if key == CHILDREN.as_bytes() {
                    f.children = int_value(value)?.and_then(|n| u32::try_from(n).ok());
                }
            }
            (15, WireType::LengthDelimited) => status_error = status_code(delimited(&mut span)?)?,
            _ => skip(&mut span, wire)?,
        }
    }
    f.failed = match grpc.flatten() {
        Some(code) => code != 0,
        None => status_error,
    };
    Some(f)
}

/// A trace id as a number (its last 16 bytes; W3C ids are exactly 16), so
/// the maps keyed by it hold no allocation per trace. Its low 64 bits are
/// the id's random part, which the sampling of the rest uses.
pub fn trace_key(id: &[u8]) -> u128 {
    let tail = &id[id.len().saturating_sub(16)..];
    tail.iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
}

/// A span id as a number (its last 8 bytes; W3C ids are exactly 8).
pub fn span_key(id: &[u8]) -> u64 {
    let tail = &id[id.len().saturating_sub(8)..];
    tail.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// A trace key hashed for a table: both halves mixed (ids whose halves are
/// equal stay apart) by multiplication, enough for ids that are random.
pub fn trace_hash(key: u128) -> u64 {
    (key as u64)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((key >> 64) as u64)
        .wrapping_mul(0xd6e8_feb8_6659_fd93)
}

/// Whether a `KeyValue` may be one of the two attributes [`facts`] reads:
/// encoders write the key first (`0x0a`, its length, its bytes), so most
/// attributes are passed over by their key's length alone, unread; any
/// other shape is read whole.
fn may_matter(kv: &[u8]) -> bool {
    match kv {
        [0x0a, len, ..] => [GRPC_STATUS.len(), CHILDREN.len()].contains(&usize::from(*len)),
        _ => true,
    }
}

/// A `KeyValue`'s key and its `AnyValue`'s bytes; `None` when malformed.
fn key_value(mut kv: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut key: &[u8] = &[];
    let mut value: &[u8] = &[];
    while kv.has_remaining() {
        let (tag, wire) = next_field(&mut kv)?;
        match (tag, wire) {
            (1, WireType::LengthDelimited) => key = delimited(&mut kv)?,
            (2, WireType::LengthDelimited) => value = delimited(&mut kv)?,
            _ => skip(&mut kv, wire)?,
        }
    }
    Some((key, value))
}

/// An `AnyValue` as an integer (an int, or a string holding one): `Some`
/// of it, `None` inside for another kind; `None` when malformed.
fn int_value(mut value: &[u8]) -> Option<Option<i64>> {
    let mut n = None;
    while value.has_remaining() {
        let (tag, wire) = next_field(&mut value)?;
        match (tag, wire) {
            (3, WireType::Varint) => n = Some(varint(&mut value)? as i64),
            (1, WireType::LengthDelimited) => {
                n = std::str::from_utf8(delimited(&mut value)?)
                    .ok()
                    .and_then(|s| s.parse().ok());
            }
            _ => skip(&mut value, wire)?,
        }
    }
    Some(n)
}

/// Whether a `Status` is ERROR.
fn status_code(mut status: &[u8]) -> Option<bool> {
    let mut error = false;
    while status.has_remaining() {
        let (tag, wire) = next_field(&mut status)?;
        match (tag, wire) {
            (3, WireType::Varint) => error = varint(&mut status)? == STATUS_ERROR,
            _ => skip(&mut status, wire)?,
        }
    }
    Some(error)
}

/// A varint from the front of `buf`. Keys and lengths in a span are
/// nearly all one byte, read here without prost's general decoder (which
/// was a sixth of the writer's parsing).
#[inline(always)]
pub fn varint(buf: &mut &[u8]) -> Option<u64> {
    match buf.split_first() {
        Some((&b, rest)) if b < 0x80 => {
            *buf = rest;
            Some(u64::from(b))
        }
        _ => decode_varint(buf).ok(),
    }
}

/// A field's key (number and wire type) from the front of `buf`, checked
/// as prost checks it.
#[inline(always)]
pub fn next_field(buf: &mut &[u8]) -> Option<(u32, WireType)> {
    let key = varint(buf)?;
    let wire = match key & 7 {
        0 => WireType::Varint,
        1 => WireType::SixtyFourBit,
        2 => WireType::LengthDelimited,
        3 => WireType::StartGroup,
        4 => WireType::EndGroup,
        5 => WireType::ThirtyTwoBit,
        _ => return None,
    };
    let tag = u32::try_from(key >> 3).ok()?;
    (tag >= 1).then_some((tag, wire))
}

/// The bytes of a length-delimited field, advancing past them.
#[inline(always)]
pub fn delimited<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(varint(buf)?).ok()?;
    if buf.len() < len {
        return None;
    }
    let (field, rest) = buf.split_at(len);
    *buf = rest;
    Some(field)
}

/// Skips a field of `wire` type; `None` when the bytes end first or the
/// type is one OTLP never uses (groups).
pub fn skip(buf: &mut &[u8], wire: WireType) -> Option<()> {
    let n = match wire {
        WireType::Varint => {
            varint(buf)?;
            0
        }
        WireType::SixtyFourBit => 8,
        WireType::ThirtyTwoBit => 4,
        WireType::LengthDelimited => {
            delimited(buf)?;
            0
        }
        WireType::StartGroup | WireType::EndGroup => return None,
    };
    if buf.len() < n {
        return None;
    }
    buf.advance(n);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
    use prost::Message;

    fn attr(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn span(parent: &[u8], attrs: Vec<KeyValue>, status: i32) -> Span {
        Span {
            trace_id: (1..=16).collect(),
            span_id: vec![9; 8],
            parent_span_id: parent.to_vec(),
            start_time_unix_nano: 5,
            end_time_unix_nano: 7,
            attributes: attrs,
            status: Some(Status {
                code: status,
                message: String::new(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn facts_are_the_ones_of_the_decoded_span() {
        let id = trace_key(&(1..=16).collect::<Vec<u8>>());
        let cases = [
            (span(&[], vec![], 0), true, false, None),
            (span(&[3; 8], vec![], 2), false, true, None),
            (
                span(
                    &[3; 8],
                    vec![
                        attr("x", any_value::Value::StringValue("y".into())),
                        attr(GRPC_STATUS, any_value::Value::IntValue(14)),
                        attr(CHILDREN, any_value::Value::IntValue(3)),
                    ],
                    0,
                ),
                false,
                true,
                Some(3),
            ),
            // The gRPC status decides over the OTLP status.
            (
                span(
                    &[],
                    vec![
                        attr(GRPC_STATUS, any_value::Value::StringValue("0".into())),
                        attr(CHILDREN, any_value::Value::IntValue(-1)),
                    ],
                    2,
                ),
                true,
                false,
                // Not a count: as if unsaid.
                None,
            ),
        ];
        for (s, root, failed, children) in cases {
            let f = facts(&s.encode_to_vec()).unwrap();
            assert_eq!(
                f,
                Facts {
                    trace: id,
                    root,
                    failed,
                    start_ns: 5,
                    end_ns: 7,
                    children,
                    span_id: span_key(&[9; 8]),
                    parent_id: if root { 0 } else { span_key(&[3; 8]) },
                }
            );
        }
        assert_eq!(facts(&[0x0a, 0x20, 1]), None);
    }

    /// An attribute whose key comes after its value (valid protobuf, though
    /// no encoder writes it so) is still read.
    #[test]
    fn an_attribute_in_another_order_is_read() {
        let mut bytes = span(&[], vec![], 0).encode_to_vec();
        let value = AnyValue {
            value: Some(any_value::Value::IntValue(7)),
        }
        .encode_to_vec();
        let mut kv = vec![0x12, value.len() as u8];
        kv.extend_from_slice(&value);
        kv.extend_from_slice(&[0x0a, CHILDREN.len() as u8]);
        kv.extend_from_slice(CHILDREN.as_bytes());
        bytes.extend_from_slice(&[0x4a, kv.len() as u8]);
        bytes.extend_from_slice(&kv);
        assert_eq!(facts(&bytes).unwrap().children, Some(7));
    }

    #[test]
    fn a_request_splits_into_its_spans_bytes() {
        let s = span(&[], vec![], 0);
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![s.clone(), s.clone()],
                    schema_url: "u".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let raw = RawRequest::decode(req.encode_to_vec().as_slice()).unwrap();
        assert_eq!(raw.spans(), 2);
        let ss = &raw.resource_spans[0].scope_spans[0];
        assert_eq!(ss.schema_url, "u");
        assert_eq!(ss.spans[1], s.encode_to_vec());
        assert!(raw.resource_spans[0].resource.is_none());
    }
}
