//! The sessions a `state: sessions` replica holds in memory: the keys it has
//! served. A key not held is a session miss (the `session_miss` steps run
//! first); a process that dies forgets them all, as a real one would.

use parking_lot::Mutex;
use std::collections::HashSet;

/// The session keys this process has served.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashSet<String>>);

impl Sessions {
    /// Whether `key` is held here.
    pub fn holds(&self, key: &str) -> bool {
        self.lock().contains(key)
    }

    /// Keeps `key` from now on.
    pub fn remember(&self, key: &str) {
        self.lock().insert(key.to_string());
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, HashSet<String>> {
        self.0.lock()
    }
}
