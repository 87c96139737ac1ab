//! Readers of a run folder: what `topolab trace` and `topolab report` show
//! once a run has ended. They read only the files the contract names, so
//! they work on any run folder, including one copied from another machine.
//!
//! [`timeseries`] owns `timeseries.csv`, [`graph`] the topology's call graph,
//! [`cascade`] the analysis of queues building up behind each other.

pub mod cascade;
pub mod graph;
pub mod timeseries;
