//! What the writer decided for traces already written or left out, for the
//! spans that come after their trace was decided (a caller's exporter that
//! sent late): a direct-mapped table of a fingerprint per slot, each trace in
//! the slot its id picks, a newer trace taking an older one's slot.
//!
//! One memory access per lookup or decision, in 1 MiB that stays in cache,
//! where a map with a queue of insertion order took four scattered ones
//! (looking up, inserting, and forgetting the oldest in both): at
//! saturation those misses were a sixth of the writer's time.

use super::raw::trace_hash;

/// Slots (a power of two): at 4,000 traces a second a decision outlives a
/// minute on average; at 60,000 a second, about 4 s.
const SLOTS: usize = 1 << 18;

/// Bit 0 of a slot: the trace was kept. Bit 1: the slot is taken (so that
/// no fingerprint is 0, an empty slot).
const KEPT: u32 = 1;
const TAKEN: u32 = 2;

/// Past decisions, forgotten as newer ones take their slots.
pub struct Decisions {
    slots: Box<[u32]>,
}

impl Default for Decisions {
    fn default() -> Self {
        Decisions {
            slots: vec![0; SLOTS].into_boxed_slice(),
        }
    }
}

impl Decisions {
    /// Whether trace `key` was kept, if its decision is still remembered.
    /// Two traces share a slot and 30 bits of fingerprint one time in 2^30:
    /// then a span may follow the other trace's decision.
    pub fn get(&self, key: u128) -> Option<bool> {
        let (slot, print) = place(key);
        let v = self.slots[slot];
        (v & !KEPT == print).then_some(v & KEPT == KEPT)
    }

    /// Remembers that trace `key` was kept or left out.
    pub fn insert(&mut self, key: u128, kept: bool) {
        let (slot, print) = place(key);
        self.slots[slot] = print | u32::from(kept);
    }
}

/// The slot of a trace (the top bits of a multiplicative hash of its id)
/// and its fingerprint (other bits of it, with TAKEN set and KEPT clear).
fn place(key: u128) -> (usize, u32) {
    let h = trace_hash(key);
    let slot = (h >> (64 - SLOTS.trailing_zeros())) as usize;
    let print = ((h >> 8) as u32 | TAKEN) & !KEPT;
    (slot, print)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::trace_key;

    #[test]
    fn remembers_decisions_until_their_slot_is_taken() {
        let mut d = Decisions::default();
        let a = trace_key(&[1; 16]);
        let b = trace_key(&[2; 16]);
        assert_eq!(d.get(a), None);
        d.insert(a, true);
        d.insert(b, false);
        assert_eq!(d.get(a), Some(true));
        assert_eq!(d.get(b), Some(false));
        // Random ids: after as many newer decisions as there are slots,
        // about 1/e of the old ones are still remembered.
        let old: Vec<u128> = (0..10_000u128)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) | 1)
            .collect();
        for &k in &old {
            d.insert(k, true);
        }
        for i in 0..SLOTS as u128 {
            d.insert(
                i.wrapping_mul(0x2545_f491_4f6c_dd1d_9e37_79b9_7f4a_7c15) ^ 0xabcd,
                false,
            );
        }
        let kept = old.iter().filter(|&&k| d.get(k) == Some(true)).count();
        assert!(
            (3_000..4_400).contains(&kept),
            "{kept} of 10,000 remembered"
        );
    }
}
