//! One span and one trace as the readers use them: times in nanoseconds,
//! ids in hex, the process and its role, and the SERVER span's split of its
//! time into queue wait, work and waiting on callees.

use std::collections::BTreeMap;

/// What the process was doing in a span: serving (SERVER) or calling (CLIENT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Server,
    Client,
    /// Any other OTLP kind (an outside SDK's INTERNAL, PRODUCER, ...).
    Other,
}

impl Kind {
    /// The role word the waterfall shows.
    pub fn role(self) -> &'static str {
        match self {
            Kind::Server => "server",
            Kind::Client => "client",
            Kind::Other => "internal",
        }
    }
}

/// One span of a trace.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    /// `None` for a root span.
    pub parent_id: Option<String>,
    pub name: String,
    pub kind: Kind,
    /// The resource's `service.name` (`load` for the generators).
    pub service: String,
    /// The process: `service#index`, `load/<generator>`, or the service name
    /// when an outside exporter gives no instance id.
    pub process: String,
    /// SERVER spans: the endpoint served.
    pub endpoint: Option<String>,
    /// CLIENT spans: `service/Endpoint` called, the replica picked, attempt number.
    pub callee: Option<String>,
    pub callee_replica: Option<String>,
    pub attempt: Option<i64>,
    pub start_ns: u64,
    pub end_ns: u64,
    /// gRPC status code (0 = OK); from `rpc.grpc.status_code`, else 2
    /// (UNKNOWN) for an OTLP ERROR status.
    pub code: i64,
    pub message: String,
    /// SERVER spans written by topolab: where the time went.
    pub queue_ns: Option<u64>,
    pub work_ns: Option<u64>,
    pub downstream_ns: Option<u64>,
    /// SERVER spans of a long poll: how long the request was held waiting
    /// for a new version (part of its duration, but not a queue's doing).
    pub held_ns: Option<u64>,
    /// Every attribute, as text.
    pub attributes: BTreeMap<String, String>,
}

impl Span {
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    pub fn is_error(&self) -> bool {
        self.code != 0
    }

    /// The gRPC code's name, e.g. `DEADLINE_EXCEEDED`.
    pub fn code_name(&self) -> &'static str {
        code_name(self.code)
    }

    /// Why it failed, as its status message says, without the `Code: `
    /// prefix topolab's spans put before it (the code is shown apart).
    pub fn reason(&self) -> &str {
        let m = self.message.trim();
        match m.split_once(':') {
            Some((word, rest))
                if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                rest.trim()
            }
            _ => m,
        }
    }
}

/// The spans of one trace, sorted by start time.
#[derive(Debug, Clone)]
pub struct Trace {
    pub id: String,
    pub spans: Vec<Span>,
}

impl Trace {
    /// A trace of `spans`, sorted by start (a parent before the children it
    /// starts with).
    pub fn new(id: String, mut spans: Vec<Span>) -> Self {
        spans.sort_by_key(|s| (s.start_ns, std::cmp::Reverse(s.end_ns)));
        Trace { id, spans }
    }

    /// The earliest span whose parent is not in the trace (normally the
    /// generator's CLIENT span).
    pub fn root(&self) -> Option<&Span> {
        self.spans.iter().find(|s| match &s.parent_id {
            None => true,
            Some(p) => !self.spans.iter().any(|o| &o.span_id == p),
        })
    }

    pub fn start_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.start_ns).min().unwrap_or(0)
    }

    pub fn end_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.end_ns).max().unwrap_or(0)
    }

    pub fn duration_ns(&self) -> u64 {
        self.end_ns().saturating_sub(self.start_ns())
    }

    /// Failed: some span in it ended with a non-OK status.
    pub fn is_error(&self) -> bool {
        self.spans.iter().any(Span::is_error)
    }

    /// The root's outcome, or the first error's if there is no root.
    pub fn code(&self) -> i64 {
        self.root()
            .map(|r| r.code)
            .or_else(|| self.spans.iter().find(|s| s.is_error()).map(|s| s.code))
            .unwrap_or(0)
    }

    /// Distinct processes that took part.
    pub fn processes(&self) -> usize {
        let mut p: Vec<&str> = self.spans.iter().map(|s| s.process.as_str()).collect();
        p.sort_unstable();
        p.dedup();
        p.len()
    }
}

/// gRPC code names, as `summary.json` writes them (the model's one list).
pub fn code_name(code: i64) -> &'static str {
    i32::try_from(code)
        .map(|c| topolab_model::StatusCode(c).name())
        .unwrap_or("UNKNOWN")
}
