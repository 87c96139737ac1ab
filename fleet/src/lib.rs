//! A run's fleet of replica processes: the loopback ports bound before any
//! starts ([`ports`]), how many this machine can hold ([`capacity`]), spawning
//! and supervising them so none outlives the launcher ([`supervisor`]), waiting
//! until all are healthy ([`health`]), restarting `restart: always` replicas
//! ([`keeper`]), the faults timeline ([`faults`]) and link faults for
//! replicas that shape their own connections ([`links`]), and what the launcher tells
//! them over `Control` before the load ([`begin`], [`metrics_addrs`]).
//!
//! It owns processes and their control calls; it sends no load and reads no
//! figures (that is `topolab-load` and `topolab-telemetry`).

pub mod begin;
pub mod capacity;
pub mod faults;
pub mod grow;
pub mod health;
pub mod keeper;
pub mod links;
pub mod metrics_addrs;
pub mod ports;
pub mod rejoin;
pub mod supervisor;
