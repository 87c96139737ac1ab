//! One run, start to finish, as named phases in the order they must happen:
//! [`start_fleet`] binds ports, starts every replica and waits until all are
//! healthy; [`warmup::phase`] sends `settings.warmup`'s load and
//! takes the replicas' figures as a baseline; [`drive`] sends the load while
//! faults, restarts, telemetry and the live view run beside it; [`collect_and_stop`] takes every replica's
//! figures and stops every process; [`write_folder`] writes the run folder.
//! [`run`] is those calls and nothing else.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use topolab_model::{Loaded, Topology};
use topolab_results::summary::FaultRecord;
use topolab_services::ReplicaSpec;

use crate::run_folder::RunFolder;
use crate::summary::Summary;
use crate::warmup_phase::{self as warmup, Warmed};
use topolab_collector::{RunTraces, TraceOptions};
use topolab_fleet::faults::Timeline;
use topolab_fleet::health;
use topolab_fleet::keeper::Keeper;
use topolab_fleet::supervisor::{Fleet, LaunchSpec, ReplicaId};
use topolab_live::{self as live, LiveMode, LiveView};
use topolab_load as load;
use topolab_telemetry::figures::{self as collect, ServiceFigures};
use topolab_telemetry::{self as telemetry, Gatherer};

mod network;
mod stop;
mod write;
pub(crate) use stop::Collected;
use stop::collect_and_stop;
use topolab_network::Hosts;
use topolab_network::timeline::LinkTimeline;
pub(crate) use write::write_run_folder;

/// How to run.
pub struct RunOptions {
    /// `--out`: the run folder; default `runs/<name>-<timestamp>`.
    pub out: Option<PathBuf>,
    /// `--force`: empty a non-empty `--out` instead of refusing it.
    pub force: bool,
    /// The seed in force (drawn by the caller when the file has none).
    pub seed: u64,
    /// The program and arguments that start one replica (it reads its
    /// configuration from stdin and its listener from fd 3).
    pub replica_command: (PathBuf, Vec<String>),
    /// Progress lines on stderr.
    pub verbose: bool,
    /// Where spans go besides the run's own collector.
    pub trace: TraceOptions,
    /// What to show while the load runs.
    pub live: LiveMode,
    /// The lab: generators that run until stopped and follow its knobs.
    pub steering: Option<crate::attach::Steering>,
}

/// What a finished run leaves.
pub struct RunResult {
    pub summary: Summary,
    pub folder: PathBuf,
    /// Each generator's closed recorder, for callers that need more than the
    /// summary's figures (a sweep merges their histograms).
    pub recorders: BTreeMap<String, load::Recorder>,
}

/// Runs the topology. Errors are failures of the sandbox itself (a replica
/// that would not start, a folder that cannot be written), never of requests.
pub async fn run(loaded: &Loaded, mut opts: RunOptions) -> anyhow::Result<RunResult> {
    // Made first: a run that cannot have its network leaves no folder.
    let (hosts, trace) = network::make(&loaded.topology, &opts)?;
    let folder = RunFolder::create(opts.out.as_deref(), &loaded.topology.name, opts.force)?;
    folder.write_topology(&loaded.yaml)?;
    let traces = RunTraces::start(&loaded.topology.settings, &folder.path, trace).await?;
    if let Some(addr) = traces.collector_addr() {
        // For outside exporters while the run goes on (not with --quiet,
        // which prints the summary only).
        say(&opts, format!("span collector (OTLP/gRPC): http://{addr}"));
    }
    let mut started = start_fleet(loaded, &opts, &folder, &traces, hosts).await?;
    started.warmed = warmup::phase(
        &loaded.topology,
        opts.seed,
        opts.verbose,
        &started.peers,
        &traces,
    )
    .await?;
    let steering = opts.steering.take();
    let mut driven = drive(loaded, &opts, started, &folder.path, &traces, steering).await?;
    let hosts = driven.hosts.take();
    let collected = collect_and_stop(driven, &opts, traces).await?;
    network::remove(hosts, &opts);
    write_folder(loaded, &opts, folder, collected)
}

/// After [`start_fleet`]: every replica up and healthy.
struct Started {
    fleet: Fleet,
    peers: BTreeMap<String, Vec<SocketAddr>>,
    /// From the first spawn until all answered their health checks.
    healthy: Duration,
    /// Set by [`warmup::phase`] when the topology has a warmup.
    warmed: Option<Warmed>,
    /// The run's network, when its topology models one.
    hosts: Option<Arc<Hosts>>,
}

/// Phase 1: binds every replica's port, starts its process on it, and waits
/// until every replica reports healthy.
async fn start_fleet(
    loaded: &Loaded,
    opts: &RunOptions,
    folder: &RunFolder,
    traces: &RunTraces,
    hosts: Option<Arc<Hosts>>,
) -> anyhow::Result<Started> {
    let topology = &loaded.topology;
    let starting = Instant::now();
    let listeners = network::listeners(hosts.as_deref(), topology)?;
    let peers = listeners.addresses()?;
    let (program, args) = opts.replica_command.clone();
    let mut fleet = Fleet::new(program, args, &folder.logs())?;
    for (service, socks) in &listeners.by_service {
        for (index, listener) in socks.iter().enumerate() {
            let spec = ReplicaSpec {
                topology: topology.clone(),
                service: service.clone(),
                index: index as u32,
                peers: peers.clone(),
                seed: opts.seed,
                otlp_endpoints: traces.replica_endpoints(),
                metrics: Some(network::metrics_addr(
                    hosts.as_deref(),
                    service,
                    index as u32,
                )),
                discovery: None,
                load_start_unix_us: None,
            };
            let restart = topology
                .service(service)
                .is_some_and(|s| s.restart == topolab_model::Restart::Always);
            fleet.spawn(LaunchSpec {
                id: ReplicaId {
                    service: service.clone(),
                    index: index as u32,
                },
                listener,
                config: serde_json::to_vec(&spec)?,
                restart,
                netns: hosts
                    .as_deref()
                    .and_then(|h| h.namespace(service, index as u32)),
            })?;
        }
    }
    // The children hold their own copies; ours would keep dead ports accepting
    // (the fleet keeps one for each `restart: always` replica).
    drop(listeners);

    let n = topology.process_count();
    let limit = Duration::from_secs(15) + Duration::from_millis(100) * n;
    health::wait_healthy(&mut fleet, limit).await?;
    // From the first spawn, so it counts process start-up, not only the wait.
    let healthy = starting.elapsed();
    say(
        opts,
        format!(
            "{n} replica process(es) healthy after {:.0} ms",
            healthy.as_secs_f64() * 1e3
        ),
    );
    let metrics = topolab_fleet::metrics_addrs::metrics_urls(&peers).await;
    crate::listing::write_replicas(folder, &peers, &metrics)?;
    if !metrics.is_empty() {
        say(opts, "Prometheus metrics (OpenMetrics text):".into());
        let lines: Vec<String> = metrics
            .iter()
            .map(|(r, url)| format!("  {r}  {url}"))
            .collect();
        crate::listing::listed(opts.verbose, &lines);
    }
    Ok(Started {
        fleet,
        peers,
        healthy,
        warmed: None,
        hosts,
    })
}

/// After [`drive`]: the load has drained (or was stopped); the fleet is ours
/// again, the faults timeline and the restart keeper have ended.
struct Driven {
    fleet: Fleet,
    peers: BTreeMap<String, Vec<SocketAddr>>,
    gatherer: Gatherer,
    outcome: Outcome,
    /// The run's network: removed once every process has stopped.
    hosts: Option<Arc<Hosts>>,
}

/// What the load phase measured and logged, for the run folder.
pub(crate) struct Outcome {
    pub(crate) healthy: Duration,
    pub(crate) recorders: BTreeMap<String, load::Recorder>,
    /// From the start of load to the end of the drain.
    pub(crate) duration: Duration,
    /// From the start of load until the last generator stopped sending
    /// (`None` without load): the rest of `duration` is the drain.
    pub(crate) load_window: Option<Duration>,
    pub(crate) interrupted: bool,
    pub(crate) faults: Vec<FaultRecord>,
    pub(crate) restarts: Vec<(ReplicaId, f64)>,
    /// What a lab changed, for `summary.json` and the report.
    pub(crate) actions: Vec<topolab_results::summary::ActionRecord>,
    /// The warmup and its baseline, when the topology has one.
    pub(crate) warmed: Option<Warmed>,
}

/// Phase 2: starts sampling telemetry, waits for the sampling grid, then
/// sends the load while the faults timeline, the restart keeper and the
/// live view run beside it; Ctrl-C (or `q` in the dashboard) stops it.
async fn drive(
    loaded: &Loaded,
    opts: &RunOptions,
    started: Started,
    folder: &Path,
    traces: &RunTraces,
    steering: Option<crate::attach::Steering>,
) -> anyhow::Result<Driven> {
    let topology = &loaded.topology;
    let Started {
        mut fleet,
        peers,
        healthy,
        warmed,
        hosts,
    } = started;
    let (user_stop_tx, user_stop) = mpsc::unbounded_channel::<()>();
    let stopping = if topology.load.is_empty() {
        // `up`, or a topology without load: there is no load to stop.
        "\nstopping the services; collecting what they served"
    } else {
        "\nstopping the load; waiting for requests in flight (Ctrl-C again to abandon them)"
    };
    let listeners = crate::interrupts::EarlySignals::new()?;
    let (signals, interrupts) = crate::interrupts::interrupts(
        opts.live == LiveMode::Dashboard,
        stopping,
        user_stop,
        listeners,
    );
    let gatherer = Gatherer::start(&peers, topology.settings.sample_every, folder)?;
    let (begin, begin_us) = telemetry::aligned_start(topology.settings.sample_every).await;
    gatherer.begin(begin_us);
    topolab_fleet::begin::begin(topology, &peers, &mut fleet, begin_us).await;
    let live_load = load::live_recorders(topology);
    let view = LiveView::start(
        // Without load the addresses printed below are what the user needs.
        if topology.load.is_empty() {
            LiveMode::Off
        } else {
            opts.live
        },
        live::Sources {
            topology: topology.clone(),
            load: live_load.clone(),
            telemetry: gatherer.live.clone(),
            begin,
            planned: longest_load(topology),
            keys: steering.as_ref().and_then(|s| s.keys.clone()),
        },
        user_stop_tx.clone(),
    );
    // From here the fleet is shared with the restart keeper and the faults timeline.
    let fleet = Arc::new(Mutex::new(fleet));
    let keeper = Keeper::start(fleet.clone(), begin, opts.verbose);
    let timeline = Timeline::start(topology, fleet.clone(), peers.clone(), begin, opts.verbose);
    let (knobs, marks) = match steering {
        Some(s) => {
            (s.attach)(crate::attach::Attach {
                fleet: fleet.clone(),
                peers: peers.clone(),
                load: live_load.clone(),
                telemetry: gatherer.live.clone(),
                joiner: gatherer.joiner(),
                begin,
                stop: user_stop_tx,
                folder: folder.to_path_buf(),
            });
            (Some(s.knobs), Some(s.marks))
        }
        None => (None, None),
    };
    let link_timeline = hosts
        .clone()
        .map(|h| LinkTimeline::start(h, begin, opts.verbose));
    let recorders = if topology.load.is_empty() {
        say(
            opts,
            "no load is sent: the services are up until Ctrl-C".into(),
        );
        if !topology.faults.is_empty() {
            let list: Vec<String> = topology
                .faults
                .iter()
                .map(|f| {
                    format!(
                        "{} on {} at {:.1} s",
                        f.action,
                        f.target,
                        f.at.as_secs_f64()
                    )
                })
                .collect();
            say(
                opts,
                format!(
                    "faults fire on their timeline, counted from now: {}",
                    list.join(", ")
                ),
            );
        }
        let lines: Vec<String> = fleet
            .lock()
            .replicas()
            .iter()
            .map(|r| format!("  {}  {}", r.id, r.addr))
            .collect();
        crate::listing::listed(opts.verbose, &lines);
        let mut stop = signals.stop.clone();
        let _ = stop.wait_for(|s| *s).await;
        Default::default()
    } else {
        let until = match &knobs {
            Some(_) => "until stopped".to_string(),
            None => format!("for up to {:.1} s", longest_load(topology).as_secs_f64()),
        };
        say(opts, format!("sending load {until}"));
        let tracer = traces.generator_exporter();
        load::run_all(load::LoadRun {
            topology,
            peers: &peers,
            seed: opts.seed,
            begin,
            signals: signals.clone(),
            live: &live_load,
            tracer,
            folder,
            knobs: knobs.as_ref(),
            book: None,
        })
        .await?
    };
    let duration = begin.elapsed();
    view.finish();
    let interrupted = *signals.stop.borrow();
    let load_window = load_window(&recorders, begin, longest_load(topology), interrupted);
    interrupts.abort();
    let mut faults = timeline.finish().await;
    if let Some(links) = link_timeline {
        faults.extend(links.finish().await);
    }
    let mut restarts = keeper.stop().await;
    let mut actions = Vec::new();
    if let Some(marks) = marks {
        let mut marks = marks.lock();
        faults.append(&mut marks.faults);
        restarts.append(&mut marks.restarts);
        actions.append(&mut marks.actions);
    }
    let fleet = take_back(fleet).await?;
    Ok(Driven {
        hosts,
        peers: topolab_fleet::grow::with_added(peers, &fleet),
        fleet,
        gatherer,
        outcome: Outcome {
            healthy,
            recorders,
            duration,
            load_window,
            interrupted,
            faults,
            restarts,
            actions,
            warmed,
        },
    })
}

/// The fleet, no longer shared: the keeper and the timeline have ended; a
/// lab's page may hold it for an instant while it reads its replicas.
async fn take_back(mut fleet: Arc<Mutex<Fleet>>) -> anyhow::Result<Fleet> {
    for _ in 0..100 {
        match Arc::try_unwrap(fleet) {
            Ok(f) => return Ok(f.into_inner()),
            Err(shared) => fleet = shared,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(anyhow::anyhow!("the fleet is still shared after the run"))
}

/// Phase 4: the summary, the telemetry and load series, the cascade, and
/// last the report, which reads the files written before it.
fn write_folder(
    loaded: &Loaded,
    opts: &RunOptions,
    folder: RunFolder,
    collected: Collected,
) -> anyhow::Result<RunResult> {
    write_run_folder(loaded, opts.seed, opts.verbose, folder, collected)
}

/// A progress line for the user, unless quiet: on stderr, or in the
/// dashboard's pane while that is up ([`crate::notice`]).
fn say(opts: &RunOptions, msg: String) {
    if opts.verbose {
        topolab_notice::say(msg);
    }
}

/// From `begin` (the start of load) until the load ended: the `planned`
/// window (the last request is due a little before its end), or until the
/// generators stopped sending when `interrupted`; `None` when none sent.
pub(crate) fn load_window(
    recorders: &BTreeMap<String, load::Recorder>,
    begin: Instant,
    planned: Duration,
    interrupted: bool,
) -> Option<Duration> {
    let sent = recorders
        .values()
        .filter_map(|r| r.issue_end)
        .max()?
        .saturating_duration_since(begin);
    Some(if interrupted { sent } else { sent.max(planned) })
}

/// The latest moment any generator stops issuing, from the start of load.
fn longest_load(t: &Topology) -> Duration {
    t.load
        .iter()
        .map(|g| g.start + g.duration)
        .max()
        .unwrap_or_default()
}
