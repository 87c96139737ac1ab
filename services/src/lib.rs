//! One replica of a service: a real OS process serving gRPC on loopback, with a
//! bounded queue in front of a pool of workers, endpoints whose steps work and
//! call other services (the replica turns client), and counters for the launcher.
//!
//! Layout: [`process`] wraps [`server::serve`] (gRPC services) around a
//! [`replica::Replica`] (shared state, one request's life), which admits
//! requests through [`admission`], runs steps with [`executor`], calls others
//! through [`client`] (picking replicas with [`balance`] among the peers it
//! was given or found by [`discovery`], guarded by
//! [`resilience`]), times `work` with [`timer`], remembers [`sessions`],
//! suffers the launcher's [`fault`]s, counts in [`stats`], and samples levels
//! and counts for the launcher in [`telemetry`], and serves them to
//! Prometheus from [`metrics`]. A failed call's status says why ([`reason`]).
//!
//! It is one process's side of a run: it never starts other processes, never
//! writes the run folder, and learns about the rest of the run only from its
//! spec, its peers and the launcher's `Control` calls.

pub mod admission;
pub mod balance;
pub mod client;
pub mod deadline;
pub mod discovery;
pub mod executor;
pub mod fault;
pub mod metrics;
pub mod process;
pub mod reason;
pub mod replica;
pub mod resilience;
pub mod server;
pub mod sessions;
pub mod shaped;
pub mod shutdown;
pub mod spec;
pub mod stats;
pub mod telemetry;
pub mod timer;
pub mod trace;
pub mod updates;

pub use process::{run_process, run_standalone};
pub use server::{ServeError, serve};
pub use shutdown::Shutdown;
pub use spec::ReplicaSpec;
