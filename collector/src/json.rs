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
use prost::encoding::WireType;

use super::raw::{delimited, next_field, skip, varint};

/// Appends the OTLP/JSON object of the span `bytes` to `out`; `repeats`
/// is kept between calls. Fails only on bytes that are not a `Span`.
pub fn write_span(bytes: &[u8], out: &mut Vec<u8>, repeats: &mut Repeats) -> anyhow::Result<()> {
    let mark = out.len();
    if fast(bytes, out, repeats).is_none() {
        out.truncate(mark);
        let span = Span::decode(bytes)?;
        serde_json::to_writer(&mut *out, &span)?;
    }
    Ok(())
}

/// A JSON object being written: the byte before its next member (`{`
/// before the first, `,` after).
struct Object<'a> {
    out: &'a mut Vec<u8>,
    sep: u8,
    /// The repeated field whose array is open (attributes 9, events 11), or 0.
    array: u32,
}

impl Object<'_> {
    /// Starts the member `name` (its value comes next).
    fn member(&mut self, name: &[u8]) -> &mut Vec<u8> {
        self.out.push(self.sep);
        self.sep = b',';
        self.out.push(b'"');
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// Starts the next item of the repeated field `tag`, the array `name`,
    /// opening the array on the first; true for the first.
    fn item(&mut self, tag: u32, name: &[u8]) -> bool {
        let first = self.array != tag;
        if first {
            self.member(name).push(b'[');
            self.array = tag;
        }
        first
    }

    /// Closes the open array, unless it is the one of field `tag`.
    fn end_array_unless(&mut self, tag: u32) {
        if self.array != 0 && self.array != tag {
            self.out.push(b']');
            self.array = 0;
        }
    }

    fn close(mut self) {
        self.end_array_unless(0);
        if self.sep == b'{' {
            self.out.push(b'{');
        }
        self.out.push(b'}');
    }
}

/// `None`: not covered here (or malformed); the caller falls back to serde.
/// Members are written in the order their fields come in the bytes (a JSON
/// object's order means nothing to a reader; encoders write fields in
/// number order), so a span is read once and nothing is buffered. A field given twice, or a repeated field
/// whose items are not together, is left to serde.
fn fast(mut b: &[u8], out: &mut Vec<u8>, repeats: &mut Repeats) -> Option<()> {
    // JSON is about twice the protobuf: one growth at most per span.
    out.reserve(2 * b.len() + 64);
    let mut o = Object {
        out,
        sep: b'{',
        array: 0,
    };
    let mut seen = 0u32;
    while b.has_remaining() {
        let (tag, wire) = next_field(&mut b)?;
        o.end_array_unless(tag);
        let bit = 1u32.checked_shl(tag)?;
        if seen & bit != 0 && tag != o.array {
            return None;
        }
        seen |= bit;
        match (tag, wire) {
            (1, WireType::LengthDelimited) => hex(o.member(b"traceId"), delimited(&mut b)?),
            (2, WireType::LengthDelimited) => hex(o.member(b"spanId"), delimited(&mut b)?),
            (3, WireType::LengthDelimited) => {
                nonempty(&mut o, b"traceState", delimited(&mut b)?, string)?
            }
            (4, WireType::LengthDelimited) => {
                nonempty(&mut o, b"parentSpanId", delimited(&mut b)?, |out, v| {
                    hex(out, v);
                    Some(())
                })?
            }
            (5, WireType::LengthDelimited) => {
                nonempty(&mut o, b"name", delimited(&mut b)?, string)?
            }
            (6, WireType::Varint) => {
                // Serde's i32: a value past it is not a real span.
                let kind = i32::try_from(varint(&mut b)?).ok()?;
                if kind != 0 {
                    int(o.member(b"kind"), i64::from(kind));
                }
            }
            (7, WireType::SixtyFourBit) if b.remaining() >= 8 => {
                time(&mut o, b"startTimeUnixNano", b.get_u64_le())
            }
            (8, WireType::SixtyFourBit) if b.remaining() >= 8 => {
                time(&mut o, b"endTimeUnixNano", b.get_u64_le())
            }
            (9, WireType::LengthDelimited) => {
                let first = o.item(9, b"attributes");
                repeats.key_value(delimited(&mut b)?, o.out, first)?;
            }
            (11, WireType::LengthDelimited) => {
                let first = o.item(11, b"events");
                event(delimited(&mut b)?, o.out, first)?;
            }
            (10, WireType::Varint) => count(&mut o, b"droppedAttributesCount", &mut b)?,
            (12, WireType::Varint) => count(&mut o, b"droppedEventsCount", &mut b)?,
            (14, WireType::Varint) => count(&mut o, b"droppedLinksCount", &mut b)?,
            (15, WireType::LengthDelimited) => {
                let (message, code) = status(delimited(&mut b)?)?;
                let code = i32::try_from(code).ok()?;
                let out = o.member(b"status");
                out.push(b'{');
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
            (16, WireType::ThirtyTwoBit) if b.remaining() >= 4 => {
                let flags = b.get_u32_le();
                if flags != 0 {
                    uint(o.member(b"flags"), u64::from(flags));
                }
            }
            _ => return None,
        }
    }
    o.close();
    Some(())
}

/// The member `name` with `value` written by `write`, unless `value` is
/// empty (the default, left out).
fn nonempty(
    o: &mut Object<'_>,
    name: &[u8],
    value: &[u8],
    write: impl Fn(&mut Vec<u8>, &[u8]) -> Option<()>,
) -> Option<()> {
    if value.is_empty() {
        return Some(());
    }
    write(o.member(name), value)
}

/// A time in nanoseconds as a quoted decimal (a 64-bit integer in
/// OTLP/JSON), unless 0.
fn time(o: &mut Object<'_>, name: &[u8], ns: u64) {
    if ns != 0 {
        let out = o.member(name);
        out.push(b'"');
        uint(out, ns);
        out.push(b'"');
    }
}

/// A count of dropped items (serde's u32), unless 0.
fn count(o: &mut Object<'_>, name: &[u8], b: &mut &[u8]) -> Option<()> {
    let n = u32::try_from(varint(b)?).ok()?;
    if n != 0 {
        uint(o.member(name), u64::from(n));
    }
    Some(())
}

/// The JSON of attributes met before, by their protobuf bytes: most of a
/// process's attributes come again on every span it sends (its service,
/// replica and endpoint, `rpc.*`, a status of 0), and copying their JSON
/// costs a fraction of writing it anew. A fixed table, each attribute in
/// the slot its bytes pick, a newer one taking an older one's slot.
pub struct Repeats {
    slots: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Slots in the table; a span has about a dozen attributes.
const REPEAT_SLOTS: usize = 256;
/// Attributes longer than this are written each time.
const REPEAT_BYTES: usize = 96;

impl Default for Repeats {
    fn default() -> Self {
        Repeats {
            slots: vec![Default::default(); REPEAT_SLOTS],
        }
    }
}

impl Repeats {
    /// As [`key_value`], copied from the table when these bytes were
    /// written before.
    fn key_value(&mut self, kv: &[u8], out: &mut Vec<u8>, first: bool) -> Option<()> {
        if !first {
            out.push(b',');
        }
        // Empty bytes are not an attribute (and would match an empty slot).
        if kv.is_empty() || kv.len() > REPEAT_BYTES {
            return key_value(kv, out, true).map(drop);
        }
        let slot = &mut self.slots[slot_of(kv)];
        if slot.0 == kv {
            out.extend_from_slice(&slot.1);
            return Some(());
        }
        let mark = out.len();
        if key_value(kv, out, true)? {
            slot.0.clear();
            slot.0.extend_from_slice(kv);
            slot.1.clear();
            slot.1.extend_from_slice(&out[mark..]);
        }
        Some(())
    }
}

/// The slot of an attribute's bytes (a multiplicative hash, eight bytes at
/// a time).
fn slot_of(kv: &[u8]) -> usize {
    let mut h = kv.len() as u64;
    for chunk in kv.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    (h >> 56) as usize % REPEAT_SLOTS
}

/// Appends `{"key":...,"value":{...}}` (with a comma when not the first).
/// `Some(true)` when the attribute is one that comes again (a string, or
/// an integer under 128: a status, a count), worth remembering.
fn key_value(mut kv: &[u8], out: &mut Vec<u8>, first: bool) -> Option<bool> {
    let mut key: &[u8] = &[];
    let mut value: Option<&[u8]> = None;
    while kv.has_remaining() {
        let (tag, wire) = next_field(&mut kv)?;
        match (tag, wire) {
            (1, WireType::LengthDelimited) => key = delimited(&mut kv)?,
            (2, WireType::LengthDelimited) => value = Some(delimited(&mut kv)?),
            _ => return None,
        }
    }
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(b"{\"key\":");
    string(out, key)?;
    out.extend_from_slice(b",\"value\":");
    // AnyValue: one of string_value (1) and int_value (3) here.
    let mut v = value?;
    let (tag, wire) = next_field(&mut v)?;
    let again = match (tag, wire) {
        (1, WireType::LengthDelimited) => {
            out.extend_from_slice(b"{\"stringValue\":");
            string(out, delimited(&mut v)?)?;
            true
        }
        (3, WireType::Varint) => {
            let n = varint(&mut v)? as i64;
            out.extend_from_slice(b"{\"intValue\":\"");
            int(out, n);
            out.push(b'"');
            (0..128).contains(&n)
        }
        _ => return None,
    };
    // A oneof written twice (the last wins) is left to serde.
    if v.has_remaining() {
        return None;
    }
    out.extend_from_slice(b"}}");
    Some(again)
}

/// Appends an event's object (with a comma when not the first).
fn event(mut e: &[u8], out: &mut Vec<u8>, first: bool) -> Option<()> {
    let mut time = 0u64;
    let mut name: &[u8] = &[];
    let mut dropped = 0u64;
    let mut attrs = Vec::new();
    while e.has_remaining() {
        let (tag, wire) = next_field(&mut e)?;
        match (tag, wire) {
            (1, WireType::SixtyFourBit) if e.remaining() >= 8 => time = e.get_u64_le(),
            (2, WireType::LengthDelimited) => name = delimited(&mut e)?,
            (3, WireType::LengthDelimited) => {
                let first = attrs.is_empty();
                key_value(delimited(&mut e)?, &mut attrs, first)?;
            }
            (4, WireType::Varint) => dropped = varint(&mut e)?,
            _ => return None,
        }
    }
    let dropped = u32::try_from(dropped).ok()?;
    if !first {
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
    if dropped != 0 {
        out.extend_from_slice(b",\"droppedAttributesCount\":");
        uint(out, u64::from(dropped));
    }
    out.push(b'}');
    Some(())
}

/// A `Status`: its message and code.
fn status(mut s: &[u8]) -> Option<(&[u8], u64)> {
    let mut message: &[u8] = &[];
    let mut code = 0;
    while s.has_remaining() {
        let (tag, wire) = next_field(&mut s)?;
        match (tag, wire) {
            (2, WireType::LengthDelimited) => message = delimited(&mut s)?,
            (3, WireType::Varint) => code = varint(&mut s)?,
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
    // Without an early exit, so that the check runs many bytes at a time.
    let plain = s.iter().fold(true, |ok, &c| {
        ok & (0x20..0x80).contains(&c) & (c != b'"') & (c != b'\\')
    });
    if plain {
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
#[path = "json_tests.rs"]
mod tests;
