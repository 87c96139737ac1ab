//! Trace ids as map keys: the writer keys its waiting traces by a trace id
//! read as a number ([`raw::trace_key`]) and hashes it cheaply.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::raw;

/// A trace id as a number (see [`raw::trace_key`]).
pub type TraceKey = u128;

/// A map keyed by trace id, hashed by [`IdHasher`].
pub type IdMap<V> = HashMap<TraceKey, V, BuildHasherDefault<IdHasher>>;

/// Trace ids are random (W3C), so a couple of multiplies of their halves
/// ([`raw::trace_hash`]) spread them well enough: SipHash on each of the
/// three map operations a trace takes was a tenth of the writer's time at
/// saturation.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = raw::trace_hash(v);
    }
}
