//! `restart: always` while a run goes on: a task that notices a replica's
//! process has died and has the fleet start a fresh one on the same address
//! (a fresh memory: its sessions and counters start empty).

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::supervisor::{Fleet, ReplicaId};

/// How often the keeper looks for dead replicas.
pub const POLL: Duration = Duration::from_millis(20);

/// The running keeper.
pub struct Keeper {
    done: watch::Sender<bool>,
    task: JoinHandle<Vec<(ReplicaId, f64)>>,
}

impl Keeper {
    /// Watches `fleet` from now on; times are reported from `begin`.
    pub fn start(fleet: Arc<Mutex<Fleet>>, begin: Instant, verbose: bool) -> Self {
        let (done, mut rx) = watch::channel(false);
        let idle = !fleet.lock().restartable();
        let task = tokio::spawn(async move {
            let mut restarted = Vec::new();
            if idle {
                // Nothing to restart: wait for the end without polling.
                let _ = rx.wait_for(|d| *d).await;
                return restarted;
            }
            loop {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    _ = rx.wait_for(|d| *d) => break,
                }
                let ids = fleet.lock().restart_exited();
                for id in ids {
                    let t = begin.elapsed().as_secs_f64();
                    if verbose {
                        topolab_notice::say(format!(
                            "[{t:7.2} s] restarted {id} (restart: always)"
                        ));
                    }
                    restarted.push((id, t));
                }
            }
            restarted
        });
        Keeper { done, task }
    }

    /// Stops watching (before the fleet is stopped); returns each restart
    /// and when it happened, in seconds from `begin`.
    pub async fn stop(self) -> Vec<(ReplicaId, f64)> {
        let _ = self.done.send(true);
        self.task.await.unwrap_or_default()
    }
}
