//! One replica of a service: a real OS process serving gRPC on loopback, with a
//! bounded queue in front of a pool of workers, endpoints whose steps work and
//! call other services (the replica turns client), and counters for the launcher.

pub mod spec;

pub use spec::ReplicaSpec;

/// Runs this process as the replica `spec` describes, serving on the already
/// bound `listener` (inherited from the launcher, so ports never race), until
/// the launcher asks it to stop or it receives SIGTERM/SIGINT.
pub fn run_process(spec: ReplicaSpec, listener: std::net::TcpListener) -> anyhow::Result<()> {
    let _ = (spec, listener);
    todo!("service process")
}
