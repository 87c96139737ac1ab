//! The network between a run's replicas, when its topology models one
//! (`network:` or link faults): every replica a host of its own (a network
//! namespace with its own address, [`hosts`]) on a wire the launcher
//! switches ([`wire`], through [`tap`] devices), where a shaped link's
//! frames are delayed, paced or dropped ([`shaping`]); link faults applied
//! and lifted on their timeline ([`timeline`]); and everything removed when
//! the run ends, however it ends ([`guard`]). Which replica pairs a link
//! covers is [`plan`]. [`plan::shape_between`] and [`shaping`] are pure and
//! are the one rule: a replica in a container (on Swarm) shapes its own
//! connections by them too (`topolab_services::shaped`).
//!
//! Namespaces and addresses are made by iproute2's `ip` in batch mode (one
//! process per namespace, about 6 ms a namespace here; see
//! `docs/network.md` for the measurements and the choice).

pub mod guard;
pub mod hosts;
pub mod plan;
pub mod shaping;
pub mod tap;
pub mod timeline;
pub mod wire;

pub use hosts::Hosts;
pub use plan::Plan;

/// Why the network could not be made or changed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// Namespaces, veths and qdiscs need root or CAP_NET_ADMIN.
    #[error(
        "this topology models the network (`network:` or link faults), which gives every replica a network namespace of its own, and that needs CAP_NET_ADMIN and CAP_SYS_ADMIN (and /dev/net/tun): run topolab as root (e.g. with sudo), or remove the `network` section and the link faults to run on loopback"
    )]
    NotPermitted,
    /// `ip` or `tc` is not installed.
    #[error(
        "this topology models the network, which needs iproute2's `ip`: install the `iproute2` package"
    )]
    NoIproute2,
    /// Every subnet topolab draws from is in use on this machine.
    #[error("no free 10.X.0.0/16 subnet (X from 200 to 254) for the run's network")]
    NoSubnet,
    /// A command of iproute2 failed.
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    /// Anything else the system refused.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl NetworkError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetworkError {
        let what = what.into();
        move |source| NetworkError::Io { what, source }
    }
}
