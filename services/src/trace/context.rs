//! The W3C Trace Context `traceparent` header
//! (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`): parsing what a
//! caller sent, making new ids, and writing the header for the next hop.

use std::cell::RefCell;
use std::fmt::Write;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The metadata key that carries the trace context across a gRPC hop.
pub const TRACEPARENT: &str = "traceparent";

/// Where a span sits: its trace, its own id, and whether the trace is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl SpanContext {
    /// The first span of a new trace.
    pub fn new_root(sampled: bool) -> Self {
        SpanContext {
            trace_id: nonzero_id(),
            span_id: nonzero_id(),
            sampled,
        }
    }

    /// A new span in the same trace, whose parent is `self`.
    pub fn child(&self) -> Self {
        SpanContext {
            span_id: nonzero_id(),
            ..*self
        }
    }

    /// Reads a `traceparent` value; `None` when malformed or all-zero ids, as
    /// the W3C spec says a receiver must then start a new trace.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let parent = parts.next()?;
        let flags = parts.next()?;
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        let trace_id: [u8; 16] = hex_array(trace)?;
        let span_id: [u8; 8] = hex_array(parent)?;
        let [flags]: [u8; 1] = hex_array(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(SpanContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The header value naming `self` as the parent of the next hop's span.
    pub fn traceparent(&self) -> String {
        let mut s = String::with_capacity(55);
        s.push_str("00-");
        push_hex(&mut s, &self.trace_id);
        s.push('-');
        push_hex(&mut s, &self.span_id);
        s.push_str(if self.sampled { "-01" } else { "-00" });
        s
    }

    /// The trace id as OTLP/JSON and `topolab trace --id` write it.
    pub fn trace_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        push_hex(&mut s, &self.trace_id);
        s
    }
}

/// Reads the caller's context from gRPC metadata, if it sent a valid one.
pub fn from_metadata(md: &tonic::metadata::MetadataMap) -> Option<SpanContext> {
    SpanContext::parse(md.get(TRACEPARENT)?.to_str().ok()?)
}

/// Puts `ctx` into outgoing metadata as the next hop's parent.
pub fn inject(md: &mut tonic::metadata::MetadataMap, ctx: &SpanContext) {
    // Cannot fail: the value is ASCII hex and dashes.
    if let Ok(v) = ctx.traceparent().parse() {
        md.insert(TRACEPARENT, v);
    }
}

thread_local! {
    /// Ids must be unique, not secret: a small generator per thread, seeded
    /// from the OS, draws them at a fraction of the cost of the
    /// cryptographic one behind `rand::random` (whose refills showed in a
    /// traced replica's profile).
    static IDS: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
}

fn nonzero_id<const N: usize>() -> [u8; N] {
    IDS.with_borrow_mut(|rng| {
        loop {
            let id: [u8; N] = rng.random();
            if id != [0; N] {
                return id;
            }
        }
    })
}

fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = s.get(2 * i..2 * i + 2)?;
        // Lowercase only, as the spec requires.
        if !pair
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn push_hex(s: &mut String, bytes: &[u8]) {
    for b in bytes {
        // Cannot fail: writing to a String.
        let _ = write!(s, "{b:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_round_trips() {
        let v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let c = SpanContext::parse(v).unwrap();
        assert!(c.sampled);
        assert_eq!(c.trace_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.traceparent(), v);
        let child = c.child();
        assert_eq!(child.trace_id, c.trace_id);
        assert_ne!(child.span_id, c.span_id);
    }

    #[test]
    fn malformed_values_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ] {
            assert_eq!(SpanContext::parse(bad), None, "{bad:?}");
        }
        let unsampled =
            SpanContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assert!(!unsampled.unwrap().sampled);
    }

    #[test]
    fn metadata_round_trip() {
        let c = SpanContext::new_root(true);
        let mut req = tonic::Request::new(());
        inject(req.metadata_mut(), &c);
        assert_eq!(from_metadata(req.metadata()), Some(c));
    }
}
