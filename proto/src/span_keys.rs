//! The span attribute keys topolab writes (the replicas and the load
//! generators) and reads back (`topolab trace`, the report): one list, so a
//! writer and a reader cannot spell a key two ways. They travel in OTLP
//! spans, so they are part of the wire vocabulary, beside the protos.

/// The load generator that made a span (`load/<generator>`): the
/// generators share one process and resource. A replica's process is its
/// resource's `service.instance.id`, not an attribute of every span.
pub const REPLICA: &str = "topolab.replica";
/// The endpoint a SERVER span served.
pub const ENDPOINT: &str = "topolab.endpoint";
/// Time waiting for a worker (nanoseconds), on SERVER spans.
pub const QUEUE_NS: &str = "topolab.queue_wait_ns";
/// Time in `work` steps (nanoseconds), on SERVER spans.
pub const WORK_NS: &str = "topolab.work_ns";
/// Time waiting on downstream calls (nanoseconds), on SERVER spans.
pub const DOWNSTREAM_NS: &str = "topolab.downstream_ns";
/// Time a long poll was held waiting for a new version (nanoseconds), on
/// SERVER spans; queue, work, downstream and held add up to the span.
pub const HELD_NS: &str = "topolab.held_ns";
/// The version a subscription pushed, on each event of its span.
pub const VERSION: &str = "topolab.version";
/// `service/Endpoint` called, on CLIENT spans.
pub const CALLEE: &str = "topolab.callee";
/// The callee replica picked for this attempt, on CLIENT spans.
pub const CALLEE_REPLICA: &str = "topolab.callee_replica";
/// 1 for the first attempt, 2 for the first retry, ...
pub const ATTEMPT: &str = "topolab.attempt";
/// The attempt's timeout (nanoseconds), on CLIENT spans.
pub const TIMEOUT_NS: &str = "topolab.timeout_ns";
/// The load generator that sent a root span.
pub const GENERATOR: &str = "topolab.generator";
/// How many spans name this one as their parent, on spans whose process
/// knows it for certain (a SERVER span: the CLIENT spans of its calls; a
/// CLIENT span answered OK: the callee's SERVER span). The collector
/// decides a trace the moment every span it counts has arrived, instead of
/// waiting for quiet; spans without it leave their trace to the quiet rule.
pub const CHILDREN: &str = "topolab.children";
/// The gRPC status code of the span's request, as a number.
pub const GRPC_STATUS: &str = "rpc.grpc.status_code";
