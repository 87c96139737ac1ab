//! Tracing of request chains: the W3C `traceparent` each hop passes on
//! ([`context`]), one clock for span times ([`clock`]), spans built from the
//! times the replica measures anyway ([`span`]) and written as protobuf
//! bytes ([`encode`]), and their export over
//! OTLP/gRPC off the hot path ([`exporter`]).

pub mod batch;
pub mod clock;
pub mod context;
pub mod encode;
pub mod exporter;
pub mod hop;
pub mod local;
mod queue;
pub mod span;

pub use context::{SpanContext, TRACEPARENT};
pub use exporter::{ExportCounts, Exporter};
pub use hop::{ClientHop, ServerHop, Split};
pub use span::SpanBuilder;
