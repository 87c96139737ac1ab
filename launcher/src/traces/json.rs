//! A span's OTLP/JSON written straight from its protobuf bytes, without
//! decoding it into prost structs: hex ids, 64-bit integers as strings, and
//! fields at their default value left out, as the protobuf JSON mapping
//! that OTLP/JSON follows writes them by default (and the OpenTelemetry
//! Collector's file exporter does); a fully traced span is ~16% shorter
//! than with every field. Any OTLP/JSON reader fills them back in (serde's
//! `opentelemetry-proto` types, Python's `json_format.Parse`). Spans the
//! fast path does not cover (links, values other than strings and
//! integers, unknown fields) are decoded and written by serde, every field
//! written, so any OTLP exporter's spans still come out right.

use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint};

use super::raw::{delimited, skip};

/// Appends the OTLP/JSON object of the span `bytes` to `out`; `scratch`
/// is reused between calls. Fails only on bytes that are not a `Span`.
pub fn write_span(bytes: &[u8], out: &mut Vec<u8>, scratch: &mut Scratch) -> anyhow::Result<()> {
    let mark = out.len();
    if fast(bytes, out, scratch).is_none() {
        out.truncate(mark);
        let span = Span::decode(bytes)?;
        serde_json::to_writer(&mut *out, &span)?;
    }
    Ok(())
}

/// Buffers for a span's repeated fields (they are written after the
/// scalars that may come later in the bytes).
#[derive(Default)]
pub struct Scratch {
    attributes: Vec<u8>,
    events: Vec<u8>,
}

/// The fields of a `Span`, borrowed from its bytes.
#[derive(Default)]
struct Fields<'a> {
    trace_id: &'a [u8],
    span_id: &'a [u8],
    trace_state: &'a [u8],
    parent_span_id: &'a [u8],
    flags: u32,
    name: &'a [u8],
    kind: u64,
    start: u64,
    end: u64,
    dropped_attributes: u64,
    dropped_events: u64,
    dropped_links: u64,
    status: Option<(&'a [u8], u64)>,
}

/// `None`: not covered here (or malformed); the caller falls back to serde.
fn fast(mut b: &[u8], out: &mut Vec<u8>, scratch: &mut Scratch) -> Option<()> {
    let mut f = Fields::default();
    let (attrs, events) = (&mut scratch.attributes, &mut scratch.events);
    attrs.clear();
    events.clear();
    while b.has_remaining() {
        let (tag, wire) = decode_key(&mut b).ok()?;
        match (tag, wire) {
            (1, WireType::LengthDelimited) => f.trace_id = delimited(&mut b)?,
            (2, WireType::LengthDelimited) => f.span_id = delimited(&mut b)?,
            (3, WireType::LengthDelimited) => f.trace_state = delimited(&mut b)?,
            (4, WireType::LengthDelimited) => f.parent_span_id = delimited(&mut b)?,
            (5, WireType::LengthDelimited) => f.name = delimited(&mut b)?,
            (6, WireType::Varint) => f.kind = decode_varint(&mut b).ok()?,
            (7, WireType::SixtyFourBit) if b.remaining() >= 8 => f.start = b.get_u64_le(),
            (8, WireType::SixtyFourBit) if b.remaining() >= 8 => f.end = b.get_u64_le(),
            (9, WireType::LengthDelimited) => key_value(delimited(&mut b)?, attrs)?,
            (10, WireType::Varint) => f.dropped_attributes = decode_varint(&mut b).ok()?,
            (11, WireType::LengthDelimited) => event(delimited(&mut b)?, events)?,
            (12, WireType::Varint) => f.dropped_events = decode_varint(&mut b).ok()?,
            (14, WireType::Varint) => f.dropped_links = decode_varint(&mut b).ok()?,
            (15, WireType::LengthDelimited) => f.status = Some(status(delimited(&mut b)?)?),
            (16, WireType::ThirtyTwoBit) if b.remaining() >= 4 => f.flags = b.get_u32_le(),
            _ => return None,
        }
    }
    // Fields serde writes as i32/u32: values past them are not a real span.
    let kind = i32::try_from(f.kind).ok()?;
    let dropped =
        [f.dropped_attributes, f.dropped_events, f.dropped_links].map(|d| u32::try_from(d).ok());
    let [Some(da), Some(de), Some(dl)] = dropped else {
        return None;
    };
    out.extend_from_slice(b"{\"traceId\":");
    hex(out, f.trace_id);
    out.extend_from_slice(b",\"spanId\":");
    hex(out, f.span_id);
    if !f.trace_state.is_empty() {
        out.extend_from_slice(b",\"traceState\":");
        string(out, f.trace_state)?;
    }
    if !f.parent_span_id.is_empty() {
        out.extend_from_slice(b",\"parentSpanId\":");
        hex(out, f.parent_span_id);
    }
    if f.flags != 0 {
        out.extend_from_slice(b",\"flags\":");
        uint(out, u64::from(f.flags));
    }
    if !f.name.is_empty() {
        out.extend_from_slice(b",\"name\":");
        string(out, f.name)?;
    }
    // OTLP's enums are never negative.
    if kind != 0 {
        out.extend_from_slice(b",\"kind\":");
        int(out, i64::from(kind));
    }
    if f.start != 0 {
        out.extend_from_slice(b",\"startTimeUnixNano\":\"");
        uint(out, f.start);
        out.push(b'"');
    }
    if f.end != 0 {
        out.extend_from_slice(b",\"endTimeUnixNano\":\"");
        uint(out, f.end);
        out.push(b'"');
    }
    if !attrs.is_empty() {
        out.extend_from_slice(b",\"attributes\":[");
        out.extend_from_slice(attrs);
        out.push(b']');
    }
    count(out, b"droppedAttributesCount", da);
    if !events.is_empty() {
        out.extend_from_slice(b",\"events\":[");
        out.extend_from_slice(events);
        out.push(b']');
    }
    count(out, b"droppedEventsCount", de);
    count(out, b"droppedLinksCount", dl);
    if let Some((message, code)) = f.status {
        let code = i32::try_from(code).ok()?;
        out.extend_from_slice(b",\"status\":{");
        if !message.is_empty() {
            out.extend_from_slice(b"\"message\":");
            string(out, message)?;
        }
        if code != 0 {
            if !message.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(b"\"code\":");
            int(out, i64::from(code));
        }
        out.push(b'}');
    }
    out.push(b'}');
    Some(())
}

/// Appends `,"name":n` unless `n` is 0 (the default, left out).
fn count(out: &mut Vec<u8>, name: &[u8], n: u32) {
    if n != 0 {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name);
        out.extend_from_slice(b"\":");
        uint(out, u64::from(n));
    }
}

/// Appends `{"key":...,"value":{...}}` (with a comma when not the first).
fn key_value(mut kv: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut key: &[u8] = &[];
    let mut value: Option<&[u8]> = None;
    while kv.has_remaining() {
        let (tag, wire) = decode_key(&mut kv).ok()?;
        match (tag, wire) {
            (1, WireType::LengthDelimited) => key = delimited(&mut kv)?,
            (2, WireType::LengthDelimited) => value = Some(delimited(&mut kv)?),
            _ => return None,
        }
    }
    if !out.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(b"{\"key\":");
    string(out, key)?;
    out.extend_from_slice(b",\"value\":");
    // AnyValue: one of string_value (1) and int_value (3) here.
    let mut v = value?;
    let (tag, wire) = decode_key(&mut v).ok()?;
    match (tag, wire) {
        (1, WireType::LengthDelimited) => {
            out.extend_from_slice(b"{\"stringValue\":");
            string(out, delimited(&mut v)?)?;
        }
        (3, WireType::Varint) => {
            out.extend_from_slice(b"{\"intValue\":\"");
            int(out, decode_varint(&mut v).ok()? as i64);
            out.push(b'"');
        }
        _ => return None,
    }
    // A oneof written twice (the last wins) is left to serde.
    if v.has_remaining() {
        return None;
    }
    out.extend_from_slice(b"}}");
    Some(())
}

/// Appends an event's object (with a comma when not the first).
fn event(mut e: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut time = 0u64;
    let mut name: &[u8] = &[];
    let mut dropped = 0u64;
    let mut attrs = Vec::new();
    while e.has_remaining() {
        let (tag, wire) = decode_key(&mut e).ok()?;
        match (tag, wire) {
            (1, WireType::SixtyFourBit) if e.remaining() >= 8 => time = e.get_u64_le(),
            (2, WireType::LengthDelimited) => name = delimited(&mut e)?,
            (3, WireType::LengthDelimited) => key_value(delimited(&mut e)?, &mut attrs)?,
            (4, WireType::Varint) => dropped = decode_varint(&mut e).ok()?,
            _ => return None,
        }
    }
    let dropped = u32::try_from(dropped).ok()?;
    if !out.is_empty() {
        out.push(b',');
    }
    // The time first and always, so every later field starts with a comma.
    out.extend_from_slice(b"{\"timeUnixNano\":\"");
    uint(out, time);
    out.push(b'"');
    if !name.is_empty() {
        out.extend_from_slice(b",\"name\":");
        string(out, name)?;
    }
    if !attrs.is_empty() {
        out.extend_from_slice(b",\"attributes\":[");
        out.extend_from_slice(&attrs);
        out.push(b']');
    }
    count(out, b"droppedAttributesCount", dropped);
    out.push(b'}');
    Some(())
}

/// A `Status`: its message and code.
fn status(mut s: &[u8]) -> Option<(&[u8], u64)> {
    let mut message: &[u8] = &[];
    let mut code = 0;
    while s.has_remaining() {
        let (tag, wire) = decode_key(&mut s).ok()?;
        match (tag, wire) {
            (2, WireType::LengthDelimited) => message = delimited(&mut s)?,
            (3, WireType::Varint) => code = decode_varint(&mut s).ok()?,
            _ => skip(&mut s, wire)?,
        }
    }
    Some((message, code))
}

/// A protobuf string as a JSON string, as serde_json writes it: printable
/// ASCII without quotes or backslashes (nearly every string here) is
/// copied as it is; anything else is checked as UTF-8 (`None` if it is not)
/// and escaped by serde_json.
fn string(out: &mut Vec<u8>, s: &[u8]) -> Option<()> {
    if s.iter()
        .all(|&c| (0x20..0x80).contains(&c) && c != b'"' && c != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, std::str::from_utf8(s).ok()?).ok()?;
    }
    Some(())
}

/// A decimal integer.
fn int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    uint(out, v.unsigned_abs());
}

/// A decimal unsigned integer.
fn uint(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Bytes as a quoted lowercase hex string (OTLP/JSON ids).
fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    use opentelemetry_proto::tonic::trace::v1::{Span, Status};

    fn kv(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn json(span: &Span) -> String {
        let mut out = Vec::new();
        write_span(&span.encode_to_vec(), &mut out, &mut Scratch::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// serde reads back the very span, on the fast path and off it (links
    /// and other value kinds, written by serde itself).
    #[test]
    fn the_json_reads_back_as_the_span() {
        use any_value::Value::*;
        let full = Span {
            trace_id: (1..=16).collect(),
            span_id: vec![0xab; 8],
            trace_state: "k=v".into(),
            parent_span_id: vec![0, 1, 2, 3, 4, 5, 6, 0xff],
            flags: 1,
            name: "svc/Ep \"quoted\" \\ é \u{1}".into(),
            kind: 2,
            start_time_unix_nano: u64::MAX,
            end_time_unix_nano: 1,
            attributes: vec![
                kv("s", StringValue("v\n".into())),
                kv("", StringValue(String::new())),
                kv("i", IntValue(-42)),
                kv("z", IntValue(0)),
            ],
            dropped_attributes_count: 3,
            events: vec![
                Event {
                    time_unix_nano: 77,
                    name: "version pushed".into(),
                    attributes: vec![kv("topolab.version", IntValue(9))],
                    dropped_attributes_count: 1,
                },
                Event::default(),
            ],
            dropped_events_count: 2,
            dropped_links_count: 4,
            status: Some(Status {
                message: "Unavailable: x".into(),
                code: 2,
            }),
            ..Default::default()
        };
        let mut no_status = full.clone();
        no_status.status = None;
        let mut link = full.clone();
        link.links = vec![Link::default()];
        let mut other_values = full.clone();
        other_values.attributes = vec![
            kv("b", BoolValue(true)),
            kv("d", DoubleValue(1.5)),
            kv("y", BytesValue(vec![1, 2])),
            KeyValue::default(),
        ];
        let empty = Span {
            status: Some(Status::default()),
            ..Default::default()
        };
        // Which path wrote it shows: serde writes `"links":[]`, the fast
        // path leaves the empty list out.
        let fast = [true, true, false, false, true, true];
        for (span, fast) in [full, no_status, link, other_values, empty, Span::default()]
            .into_iter()
            .zip(fast)
        {
            let text = json(&span);
            assert_eq!(!text.contains("\"links\""), fast, "{text}");
            let back: Span = serde_json::from_str(&text).unwrap();
            assert_eq!(back, span, "{text}");
        }
    }

    /// The fast path leaves out what is at its default: a traced root
    /// span has no parent, trace state, drops, events or links to write.
    #[test]
    fn defaults_are_left_out() {
        let root = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "svc/Ep".into(),
            kind: 2,
            start_time_unix_nano: 10,
            end_time_unix_nano: 20,
            status: Some(Status::default()),
            ..Default::default()
        };
        assert_eq!(
            json(&root),
            r#"{"traceId":"01010101010101010101010101010101","spanId":"0202020202020202","name":"svc/Ep","kind":2,"startTimeUnixNano":"10","endTimeUnixNano":"20","status":{}}"#
        );
        let failed = Span {
            status: Some(Status {
                message: "no".into(),
                code: 2,
            }),
            ..root
        };
        assert!(json(&failed).ends_with(r#""status":{"message":"no","code":2}}"#));
    }

    #[test]
    fn bytes_that_are_not_a_span_fail() {
        let mut out = Vec::new();
        assert!(write_span(&[0x0a, 0x20, 1], &mut out, &mut Scratch::default()).is_err());
    }
}
