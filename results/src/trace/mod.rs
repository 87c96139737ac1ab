//! Reading a run's `traces.jsonl` back as request chains, streamed in bounded
//! memory: [`for_each_span`] and [`for_each_trace`] read the OTLP/JSON lines
//! into flat [`Span`]s (topolab's attributes picked out) and [`Trace`]s;
//! [`tree`] links them and finds the critical path; [`waterfall`],
//! [`breakdown`], [`list`] and [`chrome`] are what `topolab trace` shows;
//! [`foreign`] writes them for Jaeger's and Zipkin's UIs.

mod assemble;
pub mod breakdown;
pub mod chrome;
pub mod compact;
pub mod foreign;
pub mod list;
mod load;
pub mod span;
pub mod tree;
pub mod waterfall;

pub use assemble::{MAX_OPEN_SPANS, for_each_trace, load, parse};
pub use load::{
    TRACES_JSONL, TraceError, file, for_each_line as for_each_line_of, for_each_span, spans_of,
};
pub use span::{Kind, Span, Trace};
