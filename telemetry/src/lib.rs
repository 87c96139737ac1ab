//! What the replicas measured, gathered by the launcher over their `Control`
//! service: telemetry samples while the run goes on ([`gatherer`], written to
//! `timeseries.csv` by its sink as they come), and each replica's endpoint
//! figures once the load has drained ([`figures`]).
//!
//! It only reads from replicas; it starts, stops and faults none of them
//! (that is `topolab-fleet`).

pub mod figures;
mod gatherer;
mod sink;

pub use gatherer::*;
