//! What the user watches while the load runs: a dashboard when stdout is a
//! terminal ([`dashboard`]), a plain progress line on stderr otherwise
//! ([`progress`]), or nothing (`--quiet`). Either runs on its own thread,
//! reads the generators' live recorders and the gathered telemetry, and is
//! put away before the run prints its summary, so stdout stays clean.
//!
//! It only reads (the recorders and the telemetry); it changes nothing of the
//! run, and a failure of its own is a warning, never the run's end.

mod dashboard;
pub mod keys;
mod progress;
mod snapshot;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use topolab_model::Topology;

use topolab_load::LiveLoad;
use topolab_telemetry::LiveTelemetry;

/// Which live display a run shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveMode {
    /// The ratatui dashboard (stdout is a terminal).
    Dashboard,
    /// A progress line on stderr now and then.
    Progress,
    /// Nothing (`--quiet`).
    Off,
}

/// What a live display reads.
#[derive(Clone)]
pub struct Sources {
    pub topology: Topology,
    pub load: LiveLoad,
    pub telemetry: LiveTelemetry,
    /// The start of load, and how long the load is planned to last.
    pub begin: Instant,
    pub planned: Duration,
    /// The dashboard's controls, when something steers the run (the lab).
    pub keys: Option<Arc<dyn keys::Keys>>,
}

/// A running live display; [`LiveView::finish`] puts it away.
pub struct LiveView {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// While the dashboard is up, notices go to its pane; dropped after the
    /// terminal is given back, it prints them into the scrollback.
    held: Option<topolab_notice::Held>,
}

impl LiveView {
    /// Starts `mode`. The dashboard sends on `stop_requests` when the user
    /// presses `q` or Ctrl-C (in raw mode the terminal sends no SIGINT).
    pub fn start(
        mode: LiveMode,
        sources: Sources,
        stop_requests: mpsc::UnboundedSender<()>,
    ) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let held = (mode == LiveMode::Dashboard).then(topolab_notice::hold);
        let thread = match mode {
            LiveMode::Off => None,
            LiveMode::Progress => Some(std::thread::spawn(move || progress::run(&sources, &flag))),
            LiveMode::Dashboard => Some(std::thread::spawn(move || {
                if let Err(e) = dashboard::run(&sources, &flag, &stop_requests) {
                    ratatui::restore();
                    topolab_notice::say(format!(
                        "warning: live view failed ({e}); the run goes on"
                    ));
                }
            })),
        };
        LiveView { done, thread, held }
    }

    /// Stops the display and gives the terminal back as it was.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // After the join: the terminal is back, so the lines reach the scrollback.
        self.held.take();
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        // An early return of the run (an error) must still restore the terminal.
        self.stop();
    }
}
