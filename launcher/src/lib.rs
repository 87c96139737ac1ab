//! The orchestration of one run: start the fleet (`topolab-fleet`) and the
//! trace collector (`topolab-collector`), wait until every replica is healthy,
//! drive the load (`topolab-load`) and the faults while the live view
//! (`topolab-live`) shows them, collect the replicas' figures
//! (`topolab-telemetry`), and write the run folder and the terminal's
//! summary. [`drive`] does the same against replicas something else started.
//!
//! It owns the order of a run's phases and what the run leaves behind; the
//! phases' own work belongs to the crates above.

pub mod attach;
pub mod drive;
pub mod interrupts;
pub mod listing;
pub mod run;
pub mod run_folder;
pub mod summary;
pub mod table;
mod warmup_phase;

pub use run::{RunOptions, RunResult, run};
pub use summary::Summary;
