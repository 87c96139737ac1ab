//! Session affinity: which replica a session key belongs to (its rendezvous
//! weight, read by `sticky` balancing), and which keys a `state: sessions`
//! replica holds, so that a request for a key it does not hold is a miss
//! (its `session_miss` steps run first) and a served miss is held from then
//! on. Shared so that a simulated replica misses exactly when a real one
//! would.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::Hash;

use topolab_model::seed::{fnv1a, splitmix64};

/// A session key as the number the rules read: FNV-1a of its bytes, the
/// same in every process and Rust version, so every caller agrees on a
/// key's replica. `None` for the empty key: the request has no session.
pub fn key(session: &str) -> Option<u64> {
    (!session.is_empty()).then(|| fnv1a(session.bytes()))
}

/// The weight of `replica` for `key`: the replica of highest weight among
/// those up is the key's (rendezvous hashing, so a key moves only when its
/// own replica goes away or comes back).
#[inline]
pub fn weight(key: u64, replica: u32) -> u64 {
    splitmix64(key ^ splitmix64(u64::from(replica)))
}

/// The session keys one replica holds (a process that dies forgets them all).
#[derive(Debug, Clone)]
pub struct Sessions<K> {
    held: HashSet<K>,
}

impl<K> Default for Sessions<K> {
    fn default() -> Self {
        Sessions {
            held: HashSet::default(),
        }
    }
}

impl<K: Hash + Eq> Sessions<K> {
    /// Whether a request with `key` misses here: it has a key, and the key
    /// is not held (a request without a key has no session to miss).
    #[inline]
    pub fn misses<Q>(&self, key: Option<&Q>) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        key.is_some_and(|k| !self.held.contains(k))
    }

    /// A request with `key` ended: a miss served OK is held from now on (a
    /// failed one built no state, so the key still misses next time).
    pub fn ended<Q>(&mut self, key: Option<&Q>, missed: bool, ok: bool)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let (Some(k), true, true) = (key, missed, ok) {
            self.held.insert(k.to_owned());
        }
    }

    /// The process died: every key is forgotten.
    pub fn forget_all(&mut self) {
        self.held.clear();
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_key_is_no_session_and_keys_hash_stably() {
        assert_eq!(key(""), None);
        // FNV-1a's published value for "a".
        assert_eq!(key("a"), Some(0xaf63_dc4c_8601_ec8c));
        assert_ne!(key("users-1"), key("users-2"));
    }

    #[test]
    fn weights_differ_by_replica_and_spread_keys_evenly() {
        assert_ne!(weight(1, 0), weight(1, 1));
        let mut on = [0; 4];
        for k in 0..4000u64 {
            let best = (0..4).max_by_key(|&r| weight(k, r)).unwrap();
            on[best as usize] += 1;
        }
        // 1,000 each expected; 4σ of a binomial(4000, 1/4) is about 110.
        assert!(on.iter().all(|&c| (890..=1110).contains(&c)), "{on:?}");
    }

    #[test]
    fn a_served_miss_is_held_and_a_failed_one_is_not() {
        let mut s: Sessions<String> = Sessions::default();
        assert!(!s.misses::<str>(None), "no key, no miss");
        assert!(s.misses(Some("u1")));
        s.ended(Some("u1"), true, false);
        assert!(s.misses(Some("u1")), "failed: nothing was built");
        s.ended(Some("u1"), true, true);
        assert!(!s.misses(Some("u1")));
        s.ended(Some("u2"), false, true);
        assert!(s.misses(Some("u2")), "only a miss is remembered");
        assert_eq!(s.len(), 1);
        s.forget_all();
        assert!(s.misses(Some("u1")));
    }

    #[test]
    fn numeric_keys_work_the_same() {
        let mut s: Sessions<u64> = Sessions::default();
        assert!(s.misses(Some(&7)));
        s.ended(Some(&7), true, true);
        assert!(!s.misses(Some(&7)));
        assert!(s.misses(Some(&8)));
    }
}
