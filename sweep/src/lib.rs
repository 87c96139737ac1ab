//! `topolab sweep`: the same topology run once per value of one parameter,
//! and the collapse curve drawn from the runs: which values to run
//! ([`vary`]), each step's figures and the knee ([`figures`]), what the
//! simulator predicts for each step ([`predicted`]), and the printed table
//! ([`table`]). The sweep folder's files and page belong to
//! [`topolab_results::sweep`] and [`topolab_results::report`]. The command
//! in `src/commands/sweep.rs` drives the runs.
//!
//! It decides the steps and reads their results; each step is an ordinary
//! run (`topolab-launcher`) or prediction (`topolab-predict`).

pub mod figures;
pub mod predicted;
pub mod table;
pub mod vary;

pub use figures::{Goal, StepFigures};
pub use vary::{Vary, VaryError};
