//! The launcher: everything `topolab run` does outside the replicas. It binds
//! ports, spawns and supervises the replica processes, drives the load,
//! collects each replica's figures and telemetry, shows the run live, and
//! writes the run folder.

pub mod capacity;
pub mod collect;
pub mod drive;
pub mod faults;
pub mod health;
pub mod interrupts;
pub mod keeper;
pub mod listing;
pub mod live;
pub mod load;
pub mod metrics_addrs;
pub mod notice;
pub mod ports;
pub mod predict;
pub mod run;
pub mod run_folder;
pub mod summary;
pub mod supervisor;
pub mod sweep;
pub mod table;
pub mod telemetry;
pub mod traces;
mod warmup;

pub use run::{RunOptions, RunResult, run};
pub use summary::Summary;
