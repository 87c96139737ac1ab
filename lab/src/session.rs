//! One lab session: the topology as it started and as it is now, the live
//! `--set`s and actions applied so far, the generators' knobs, and what
//! the run handed over as its load started ([`Attached`]). Every handler
//! and the frame ticker share one [`Session`].

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use topolab_fleet::supervisor::Fleet;
use topolab_launcher::attach::{Attach, Marks, Steering};
use topolab_load::{Knobs, LiveLoad};
use topolab_model::{Limits, Topology};
use topolab_results::summary::ActionRecord;
use topolab_telemetry::LiveTelemetry;

/// Actions a session keeps at most; past this, commands are refused.
pub const MAX_ACTIONS: usize = 10_000;

/// Frames buffered per page; a page that falls further behind skips them.
const FRAMES_BUFFERED: usize = 16;

/// What a lab starts from.
pub struct Setup {
    /// The file's name, for the validator's messages.
    pub file: String,
    /// The topology as started: the file's text with `--set` applied.
    pub yaml: String,
    /// The same, checked: what every live `set` is compared against.
    pub topology: Topology,
    /// The machine's limits, as `--set` is checked against.
    pub limits: Limits,
}

/// What the run handed over as its load started. The fleet is held weakly:
/// the run takes it back when the load ends.
pub struct Attached {
    pub fleet: Weak<Mutex<Fleet>>,
    pub peers: BTreeMap<String, Vec<SocketAddr>>,
    pub load: LiveLoad,
    pub telemetry: LiveTelemetry,
    /// Adds a replica the lab starts to the telemetry polled.
    pub joiner: topolab_telemetry::Joiner,
    /// Replicas taken out of their callers' lists by the lab (replicas
    /// down), by service, from the lowest index: drained and idle, kept
    /// running so their figures reach the summary, and taken back first
    /// when the replicas go up again. `peers` holds only those in use.
    pub parked: BTreeMap<String, Vec<SocketAddr>>,
    pub begin: Instant,
    pub stop: mpsc::UnboundedSender<()>,
    /// The run folder: a clicked dot's chain is read from its traces.
    pub folder: std::path::PathBuf,
}

/// One change made while the lab ran, as the page marks it and as
/// `lab.yaml` replays it.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// Seconds from the start of load.
    pub t_s: f64,
    /// What it did, in words (`set load.regulars.rate=9/s`, `kill kitchen#0`).
    pub what: String,
    #[serde(skip)]
    pub kind: ActionKind,
}

/// What an [`Action`] changed, for the replay.
#[derive(Debug, Clone)]
pub enum ActionKind {
    /// An open loop held at this rate from now.
    Rate {
        generator: String,
        rate: f64,
    },
    /// A closed loop held at this many clients from now.
    Clients {
        generator: String,
        clients: u32,
    },
    Pause {
        generator: String,
        paused: bool,
    },
    /// A service's workers and queue limit from now.
    Capacity {
        service: String,
        workers: u32,
        queue: Option<u32>,
    },
    /// A service's replicas in use from now (added ones started, removed
    /// ones drained first).
    Replicas {
        service: String,
        replicas: u32,
    },
    /// A service's versions come `gaps` apart from now (`updates`).
    Updates {
        service: String,
        gaps: String,
    },
    /// A fault in the format's syntax (`kill` included), applied now.
    Fault(topolab_model::Fault),
    Restart(String),
    /// The page's figures started afresh (the run folder keeps everything).
    Reset,
    Stop,
}

/// Everything the server's handlers share.
pub struct Session {
    /// Every request must carry it.
    pub token: String,
    pub setup: Setup,
    pub knobs: Knobs,
    pub(crate) state: Mutex<State>,
    pub(crate) frames: broadcast::Sender<Arc<str>>,
    pub(crate) marks: Arc<Mutex<Marks>>,
    /// The page's URL, said again once the load starts (the dashboard then
    /// covers the line that printed it).
    pub url: Mutex<Option<String>>,
}

/// What changes as the session goes on.
pub(crate) struct State {
    /// The topology with every live `--set` applied.
    pub topology: Topology,
    /// The live `--set`s accepted so far, in order.
    pub sets: Vec<String>,
    pub actions: Vec<Action>,
    pub attached: Option<Attached>,
    pub stopped: bool,
    /// The last frame taken, for `/api/state`.
    pub latest: Option<serde_json::Value>,
    /// The latest prediction of the settings in force ([`crate::ghost`]),
    /// and how many were asked for (a late answer to an old one is dropped).
    pub ghost: Option<serde_json::Value>,
    pub ghost_generation: u64,
    /// The generators' levels the latest prediction answers.
    pub ghost_levels: Vec<f64>,
    /// How many times the page's figures were reset: the frames' windows
    /// start afresh when it changes, and the page clears its charts.
    pub resets: u64,
}

impl Session {
    /// A session for `setup`, with a fresh random token.
    pub fn new(setup: Setup) -> Arc<Session> {
        let knobs = topolab_load::knob::knobs(&setup.topology);
        let bytes: [u8; 16] = rand::random();
        let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Arc::new(Session {
            token,
            knobs,
            state: Mutex::new(State {
                topology: setup.topology.clone(),
                sets: Vec::new(),
                actions: Vec::new(),
                attached: None,
                stopped: false,
                latest: None,
                ghost: None,
                ghost_generation: 0,
                ghost_levels: Vec::new(),
                resets: 0,
            }),
            setup,
            frames: broadcast::channel(FRAMES_BUFFERED).0,
            marks: Arc::default(),
            url: Mutex::new(None),
        })
    }

    /// What the run needs to be steered by this session (and, through the
    /// dashboard's keys, by `runtime`'s tasks).
    pub fn steering(self: &Arc<Self>, runtime: tokio::runtime::Handle) -> Steering {
        let me = self.clone();
        let keys = crate::keys::LabKeys {
            session: self.clone(),
            runtime,
        };
        Steering {
            keys: Some(Arc::new(keys)),
            knobs: self.knobs.clone(),
            marks: self.marks.clone(),
            attach: Box::new(move |a: Attach| {
                me.state.lock().attached = Some(Attached {
                    fleet: Arc::downgrade(&a.fleet),
                    peers: a.peers,
                    load: a.load,
                    telemetry: a.telemetry,
                    joiner: a.joiner,
                    parked: BTreeMap::new(),
                    begin: a.begin,
                    stop: a.stop,
                    folder: a.folder,
                });
                if let Some(url) = me.url.lock().clone() {
                    topolab_notice::say(format!("lab: {url}"));
                }
                crate::frames::start(me.clone());
                crate::ghost::predict(me.clone());
            }),
        }
    }

    /// The actions applied so far.
    pub fn actions(&self) -> Vec<Action> {
        self.state.lock().actions.clone()
    }

    /// Seconds from the start of load (0 before it).
    pub(crate) fn now_s(&self) -> f64 {
        self.state
            .lock()
            .attached
            .as_ref()
            .map_or(0.0, |a| a.begin.elapsed().as_secs_f64())
    }

    /// Records an action done now; those the summary has no other place
    /// for (not a fault, kill or restart) are marked on the report's charts.
    pub(crate) fn record(&self, what: String, kind: ActionKind) {
        let t_s = (self.now_s() * 1e3).round() / 1e3;
        if !matches!(kind, ActionKind::Fault(_) | ActionKind::Restart(_)) {
            self.marks.lock().actions.push(ActionRecord {
                t_s,
                what: what.clone(),
            });
        }
        let mut st = self.state.lock();
        if st.actions.len() < MAX_ACTIONS {
            st.actions.push(Action { t_s, what, kind });
        }
    }

    /// Stops the load as Ctrl-C would; the run then writes its folder.
    pub fn stop(&self) {
        let mut st = self.state.lock();
        st.stopped = true;
        if let Some(a) = &st.attached {
            let _ = a.stop.send(());
        }
    }
}
