//! What a run hands to something that steers it while the load runs (the
//! lab): the fleet, the replicas' addresses, the live figures, the
//! generators' knobs and a way to stop; and what that steering gives back
//! to the run folder (the faults and restarts it made).

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use topolab_fleet::supervisor::{Fleet, ReplicaId};
use topolab_load::{Knobs, LiveLoad};
use topolab_results::summary::{ActionRecord, FaultRecord};
use topolab_telemetry::LiveTelemetry;

/// The running experiment, as the load starts.
pub struct Attach {
    /// Shared with the restart keeper and the faults timeline.
    pub fleet: Arc<Mutex<Fleet>>,
    /// Every service's replicas, in index order.
    pub peers: BTreeMap<String, Vec<SocketAddr>>,
    /// The generators' recorders (with their requests' dots).
    pub load: LiveLoad,
    /// Each replica's latest levels and recent samples.
    pub telemetry: LiveTelemetry,
    /// Adds a replica started while the load runs to the telemetry polled
    /// (its final figures are taken from the fleet, see `run`).
    pub joiner: topolab_telemetry::Joiner,
    /// The start of load: every time of the run counts from it.
    pub begin: Instant,
    /// Stops the load as Ctrl-C does.
    pub stop: mpsc::UnboundedSender<()>,
    /// The run folder, where `traces.jsonl` grows as the run goes on (the
    /// collector writes what it keeps about once a second).
    pub folder: std::path::PathBuf,
}

/// Faults, restarts and other changes made from outside the topology's
/// timeline, for `summary.json` and the report.
#[derive(Debug, Default)]
pub struct Marks {
    pub faults: Vec<FaultRecord>,
    /// Each restart and when, in seconds from the start of load.
    pub restarts: Vec<(ReplicaId, f64)>,
    /// Every other change, for the report's charts.
    pub actions: Vec<ActionRecord>,
}

/// How a run is steered while it runs: its generators follow `knobs` and
/// run until stopped; `attach` is called once as the load starts.
pub struct Steering {
    pub knobs: Knobs,
    pub attach: Box<dyn FnOnce(Attach) + Send>,
    /// Filled by the steering; read once the load has ended.
    pub marks: Arc<Mutex<Marks>>,
    /// The dashboard's controls.
    pub keys: Option<Arc<dyn topolab_live::keys::Keys>>,
}
