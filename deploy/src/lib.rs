//! Running a topology beyond one machine: the container image every replica
//! runs ([`image`]), the same topology as a Docker stack ([`compose`]) or as
//! Kubernetes manifests ([`kubernetes`]), with the settings both share
//! ([`container`]: ports, environment, resource requests); and a run on a
//! Docker Swarm ([`swarm`]), whose load driver finds the replicas by DNS
//! ([`peers`]) and acts on their containers through the Engine ([`engine`]),
//! and whose stack a guardian removes if the launcher is killed ([`guardian`]).
//!
//! It owns what containers and clusters need; the run itself (load, faults,
//! collection) is the launcher's `drive`, reached through the command line.

pub mod compose;
pub mod container;
pub mod engine;
pub mod guardian;
pub mod image;
pub mod kubernetes;
pub mod peers;
pub mod swarm;

/// The image `export` and `run --on swarm` use unless told otherwise.
pub const DEFAULT_IMAGE: &str = "topolab:local";

/// Writes a value as YAML (compose files and manifests are read by people).
pub fn yaml(value: &serde_json::Value) -> String {
    // Cannot fail: a JSON value always has a YAML form.
    serde_saphyr::to_string(value).expect("a JSON value serializes as YAML")
}
