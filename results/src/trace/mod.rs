//! Reading a run's `traces.json` back as request chains: [`load`] parses the
//! OTLP/JSON into [`Trace`]s of flat [`Span`]s (topolab's attributes picked
//! out); [`tree`] links them and finds the critical path; [`waterfall`],
//! [`breakdown`], [`list`] and [`chrome`] are what `topolab trace` shows.

pub mod breakdown;
pub mod chrome;
pub mod list;
mod load;
pub mod span;
pub mod tree;
pub mod waterfall;

pub use load::{TraceError, load, parse};
pub use span::{Kind, Span, Trace};
