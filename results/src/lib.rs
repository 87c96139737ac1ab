//! Readers of a run folder: what `topolab trace` and `topolab report` show
//! once a run has ended. They read only the files the contract names, so
//! they work on any run folder, including one copied from another machine.

pub mod trace;
