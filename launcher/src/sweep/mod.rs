//! `topolab sweep`: the same topology run once per value of one parameter,
//! and the collapse curve drawn from the runs: which values to run
//! ([`vary`]), each step's figures and the knee ([`figures`]), and the chart
//! ([`chart`]). The command in `src/commands/sweep.rs` drives the runs.

pub mod chart;
pub mod figures;
pub mod table;
pub mod vary;

pub use figures::{Goal, StepFigures};
pub use vary::{Vary, VaryError};
