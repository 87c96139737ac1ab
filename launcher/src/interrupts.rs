//! How a user stops a run: the first Ctrl-C (or SIGTERM, or `q` in the
//! dashboard) stops issuing load, the second abandons requests in flight.

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use topolab_load::StopSignals;

/// Ctrl-C and SIGTERM, listened for from the moment these are made: one
/// that comes before the load starts is kept, and stops the load as soon as
/// it does. (The load driver of a Swarm run is its container's first
/// process, for which a signal without a handler is simply dropped: a
/// Ctrl-C forwarded while it still looked its replicas up was lost, and the
/// run went on for its whole duration.)
pub struct EarlySignals {
    int: Signal,
    term: Signal,
}

impl EarlySignals {
    /// Starts listening; must be called within the tokio runtime.
    pub fn new() -> anyhow::Result<Self> {
        Ok(EarlySignals {
            int: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
            term: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        })
    }
}

/// The stop signals of the load: the first Ctrl-C (or SIGTERM, or `q` in
/// the dashboard, whose raw mode swallows SIGINT) stops issuing, the second
/// abandons requests in flight. Returns them and the task listening.
pub(crate) fn interrupts(
    dashboard: bool,
    stopping: &'static str,
    mut user_stop: mpsc::UnboundedReceiver<()>,
    listeners: EarlySignals,
) -> (StopSignals, JoinHandle<()>) {
    let (stop_tx, stop) = watch::channel(false);
    let (abort_tx, abort) = watch::channel(false);
    let task = tokio::spawn(async move {
        let EarlySignals { mut int, mut term } = listeners;
        for tx in [&stop_tx, &abort_tx] {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                Some(()) = user_stop.recv() => {}
            }
            let _ = tx.send(true);
            if std::ptr::eq(tx, &stop_tx) && !dashboard {
                topolab_notice::say(stopping);
            }
        }
    });
    (StopSignals { stop, abort }, task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_signal_before_the_load_starts_still_stops_it() {
        let early = EarlySignals::new().unwrap();
        // SIGTERM to this test process, before anyone waits for it.
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_user, user_stop) = mpsc::unbounded_channel();
        let (mut signals, task) = interrupts(true, "", user_stop, early);
        tokio::time::timeout(Duration::from_secs(10), signals.stop.wait_for(|s| *s))
            .await
            .expect("the early signal was lost")
            .unwrap();
        assert!(!*signals.abort.borrow(), "one signal only stops issuing");
        task.abort();
    }
}
