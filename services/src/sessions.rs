//! The sessions a `state: sessions` replica holds in memory: the keys it has
//! served. A key not held is a session miss (the `session_miss` steps run
//! first); a process that dies forgets them all, as a real one would. The
//! rule is `topolab_rules::affinity` (the simulator's too); this keeps the
//! keys behind a lock.

use parking_lot::{Mutex, MutexGuard};

use topolab_rules::affinity;

/// The session keys this process has served.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<affinity::Sessions<String>>);

impl Sessions {
    /// Whether a request with `key` misses here ("" has no session to miss).
    pub fn misses(&self, key: &str) -> bool {
        self.lock().misses(session(key))
    }

    /// A request with `key` ended: a miss served OK is held from now on.
    pub fn ended(&self, key: &str, missed: bool, ok: bool) {
        self.lock().ended(session(key), missed, ok);
    }

    fn lock(&self) -> MutexGuard<'_, affinity::Sessions<String>> {
        self.0.lock()
    }
}

/// The key as the rule reads it: the empty key is no session.
fn session(key: &str) -> Option<&str> {
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_served_miss_is_held_and_the_empty_key_never_misses() {
        let s = Sessions::default();
        assert!(!s.misses(""));
        assert!(s.misses("u1"));
        s.ended("u1", true, false);
        assert!(s.misses("u1"));
        s.ended("u1", true, true);
        assert!(!s.misses("u1"));
        s.ended("", true, true);
        assert!(!s.misses(""));
    }
}
