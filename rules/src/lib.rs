//! The decision rules a replica and the simulator both make, each written
//! once so that `predict` decides exactly as a run does: which replica an
//! attempt goes to ([`balance`]), which replica a session belongs to and
//! which sessions a replica holds ([`affinity`]), when a breaker opens and
//! closes ([`breaker`]), which failures are retried ([`retry`]), when the
//! retry budget allows one ([`budget`]) and how long before it ([`backoff`]),
//! who gets a worker and who waits or is turned away ([`admission`]), and
//! how a caller's deadline bounds its callees ([`deadline`]), and which
//! requests are too large to be decoded at all ([`message`]).
//!
//! Every rule is a plain state machine or function. Time comes in as
//! [`Nanos`] since an origin its user picks (a replica: an `Instant` it
//! keeps; the simulator: the start of its run) and randomness as a
//! `rand::Rng`. This crate must not touch I/O, clocks, locks, threads or
//! async: a replica wraps a rule in its own lock, clock and tower layers, the
//! simulator in its arenas and simulated time.

pub mod admission;
pub mod affinity;
pub mod backoff;
pub mod balance;
pub mod breaker;
pub mod budget;
pub mod deadline;
pub mod message;
pub mod retry;

/// A time in nanoseconds since an origin the rule's user picks, or a span
/// of time in nanoseconds; every rule takes `now` in these units.
pub type Nanos = u64;

/// Nanoseconds in a second.
pub const SEC: Nanos = 1_000_000_000;
