//! Readers of a run folder: what `topolab trace` and `topolab report` show
//! once a run has ended. They read only the files the contract names, so
//! they work on any run folder, including one copied from another machine.
//!
//! [`run_dir`] reads a folder; [`summary`], [`timeseries`], [`load_series`]
//! [`requests`] and [`sweep`] own one file each (its type, its writer and its reader,
//! CSV through [`csv_file`]; [`reasons`] is the summary's sample of failure
//! messages); [`hops`] splits each hop's time; [`trace`]
//! streams `traces.jsonl`; [`graph`] is the topology's call graph;
//! [`cascade`] finds queues building up behind each other; [`report`] writes
//! `report.html`; [`versus`] sets a prediction beside a run's measurement.
//!
//! It owns the run folder's formats, and reads and writes only files: it
//! talks to no replica and starts nothing.

pub mod cascade;
pub mod compare;
pub mod csv_file;
mod from_figures;
pub mod graph;
pub mod hops;
pub mod links;
pub mod load_series;
pub mod machine;
pub mod reasons;
pub mod report;
pub mod requests;
pub mod run_dir;
pub mod summary;
pub mod sweep;
pub mod timeseries;
pub mod trace;
pub mod units;
pub mod updates;
pub mod versus;
