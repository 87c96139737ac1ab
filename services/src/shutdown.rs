//! The one cancellation signal of a replica process (as in mini-redis): the
//! launcher's `Control/Shutdown`, SIGTERM/SIGINT and a vanished parent all
//! trigger the same [`Shutdown`], and everything that must stop waits on it.

use std::sync::Arc;

use tokio::sync::watch;

/// A cloneable "stop now" flag that can be awaited.
///
/// Built on a `watch` channel so that a waiter that starts waiting after the
/// signal was given still sees it at once (a `Notify` would lose it).
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Shutdown {
    /// A signal not yet given.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(false);
        Self { tx: Arc::new(tx) }
    }

    /// Gives the signal; idempotent, and every clone sees it.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether the signal was given.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the signal is given (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // Cannot fail: `self` holds the sender, so the channel stays open.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn late_waiters_see_the_signal() {
        let s = Shutdown::new();
        assert!(s.wait().now_or_never().is_none());
        s.clone().trigger();
        assert!(s.is_triggered());
        assert!(s.wait().now_or_never().is_some());
    }
}
