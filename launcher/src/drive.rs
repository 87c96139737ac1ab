//! A run against replicas that something else started and that are reached
//! by address (containers of a Swarm stack or of a Kubernetes namespace):
//! wait until all are healthy, send the load, apply the faults (kill and
//! pause through the engine's [`Processes`]), collect, and write the same run
//! folder as a local run (with the local run's own phases where they fit). The replicas keep running: whoever started them
//! stops them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use topolab_fleet::supervisor::ReplicaId;
use topolab_model::{Loaded, Restart};

use crate::run::{self, Collected, Outcome, RunResult};
use crate::run_folder::RunFolder;
use crate::warmup_phase as warmup;
use topolab_collector::{RunTraces, TraceOptions};
use topolab_fleet::faults::{Processes, Timeline};
use topolab_fleet::health;
use topolab_fleet::links::Replicas;
use topolab_fleet::rejoin::{Moved, Rejoin};
use topolab_load as load;
use topolab_network::timeline::LinkTimeline;
use topolab_services::discovery::Discovery;
use topolab_telemetry::figures as collect;
use topolab_telemetry::{self as telemetry, Gatherer};

/// How to drive.
pub struct DriveOptions {
    /// The run folder; default `runs/<name>-<timestamp>`.
    pub out: Option<PathBuf>,
    /// The seed in force.
    pub seed: u64,
    /// Progress lines on stderr.
    pub verbose: bool,
    /// What `kill` and `pause` faults act on.
    pub processes: Arc<dyn Processes>,
    /// How long the replicas may take to be healthy.
    pub health_limit: Duration,
    /// Where the run's span collector listens for the replicas (a fixed
    /// port on all interfaces in a container network); `None`: loopback, and
    /// only the generators' own spans are recorded.
    pub collector_listen: Option<SocketAddr>,
    /// `--otlp-endpoint` and `--otlp-only`, as for a local run (`listen`
    /// is [`DriveOptions::collector_listen`]).
    pub outside: TraceOptions,
    /// Ctrl-C and SIGTERM, listened for since the command started.
    pub signals: crate::interrupts::EarlySignals,
    /// How the replicas were found: watched while the load runs, so a
    /// replica started again at a new address follows the same version
    /// timeline, takes its generators' calls and gives its figures (see
    /// `topolab_fleet::rejoin`; `None`: the replicas stay where they were).
    pub discovery: Option<Discovery>,
}

/// How long the replicas' last spans may take to reach the collector after
/// the load: their exporters send a batch at least every 200 ms.
const SPANS_LIMIT: Duration = Duration::from_secs(3);

/// Runs `loaded`'s load against the replicas at `peers` (by service, in index
/// order). Errors are failures of the sandbox, never of requests.
pub async fn drive(
    loaded: &Loaded,
    peers: BTreeMap<String, Vec<SocketAddr>>,
    opts: DriveOptions,
) -> anyhow::Result<RunResult> {
    let topology = &loaded.topology;
    let folder = RunFolder::create(opts.out.as_deref(), &topology.name, false)?;
    folder.write_topology(&loaded.yaml)?;
    let say = |msg: String| {
        if opts.verbose {
            topolab_notice::say(msg);
        }
    };
    // Replicas elsewhere reach the collector only where it is told to listen
    // on their network; on loopback only the generators' spans are recorded.
    let trace_opts = TraceOptions {
        listen: opts.collector_listen,
        ..opts.outside.clone()
    };
    let traces = RunTraces::start(&topology.settings, &folder.path, trace_opts).await?;
    if let Some(addr) = traces
        .collector_addr()
        .filter(|_| opts.collector_listen.is_some())
    {
        say(format!("span collector on {addr}"));
    }
    let named: Vec<(String, SocketAddr)> = peers
        .iter()
        .flat_map(|(s, addrs)| {
            addrs
                .iter()
                .enumerate()
                .map(move |(i, a)| (format!("{s}#{i}"), *a))
        })
        .collect();
    let healthy = health::wait_addrs_healthy(&named, opts.health_limit).await?;
    say(format!(
        "{} replica(s) healthy after {:.0} ms",
        named.len(),
        healthy.as_secs_f64() * 1e3
    ));
    for (id, addr) in &named {
        say(format!("  {id}  {addr}"));
    }

    let warmed = warmup::phase(topology, opts.seed, opts.verbose, &peers, &traces).await?;
    let (_user_stop_tx, user_stop) = mpsc::unbounded_channel::<()>();
    let (signals, interrupts) = crate::interrupts::interrupts(
        false,
        "\nstopping the load; waiting for requests in flight (Ctrl-C again to abandon them)",
        user_stop,
        opts.signals,
    );
    let gatherer = Gatherer::start(&peers, topology.settings.sample_every, &folder.path)?;
    let (begin, begin_us) = telemetry::aligned_start(topology.settings.sample_every).await;
    gatherer.begin(begin_us);
    topolab_fleet::begin::tell(topology, &peers, begin_us).await;
    let book = Arc::new(load::Book::default());
    let rejoin = opts.discovery.clone().and_then(|d| {
        let book = book.clone();
        let moved: Moved = Box::new(move |service, addrs| book.set(service, addrs.to_vec()));
        Rejoin::start(topology, d, peers.clone(), begin_us, moved)
    });
    let timeline = Timeline::start(
        topology,
        opts.processes.clone(),
        peers.clone(),
        begin,
        opts.verbose,
    );
    let links = topology.network.in_use().then(|| {
        let target = Replicas {
            network: topology.network.clone(),
            peers: peers.clone(),
        };
        let faults = topology.network.faults.clone();
        LinkTimeline::start_on(faults, Arc::new(target), begin, opts.verbose)
    });
    say(format!(
        "sending load for up to {:.1} s",
        longest_load(loaded).as_secs_f64()
    ));
    let recorders = load::run_all(load::LoadRun {
        topology,
        peers: &peers,
        seed: opts.seed,
        begin,
        signals: signals.clone(),
        live: &load::live_recorders(topology),
        tracer: traces.generator_exporter(),
        folder: &folder.path,
        knobs: None,
        book: Some(book),
    })
    .await?;
    let duration = begin.elapsed();
    let interrupted = *signals.stop.borrow();
    let load_window = run::load_window(&recorders, begin, longest_load(loaded), interrupted);
    interrupts.abort();
    let mut faults = timeline.finish().await;
    if let Some(links) = links {
        faults.extend(links.finish().await);
    }
    let telemetry = gatherer.finish().await;
    let restarts = restarted(topology, &*opts.processes, begin_us).await;
    // Replicas started again are collected where they are now.
    let peers = match rejoin {
        Some(r) => r.stop().await.unwrap_or(peers),
        None => peers,
    };
    let mut figures = collect::collect(&peers).await?;
    if let Some(w) = &warmed {
        warmup::subtract(&mut figures, &w.baseline);
    }
    traces.flush_generators().await;
    let replica_spans = figures.values().fold((0, 0), |(r, d), f| {
        (r + f.spans_recorded, d + f.spans_dropped)
    });
    if opts.collector_listen.is_some() && !traces.await_spans(replica_spans, SPANS_LIMIT).await {
        say(format!(
            "warning: the replicas' spans did not all reach the collector within {SPANS_LIMIT:?}"
        ));
    }
    let trace_summary = traces.finish(replica_spans).await;
    let collected = Collected {
        outcome: Outcome {
            healthy,
            recorders,
            duration,
            load_window,
            interrupted,
            faults,
            restarts,
            actions: Vec::new(),
            warmed,
        },
        telemetry,
        figures,
        trace_summary,
    };
    run::write_run_folder(loaded, opts.seed, opts.verbose, folder, collected)
}

/// The replicas of `restart: always` services that whatever runs them
/// started again during the run, with when.
async fn restarted(
    topology: &topolab_model::Topology,
    processes: &dyn Processes,
    begin_us: u64,
) -> Vec<(ReplicaId, f64)> {
    let always: Vec<&str> = topology
        .services
        .iter()
        .filter(|s| s.restart == Restart::Always)
        .map(|s| s.name.as_str())
        .collect();
    if always.is_empty() {
        return Vec::new();
    }
    processes.restarts(&always, begin_us).await
}

/// The latest moment any generator stops issuing, from the start of load.
fn longest_load(loaded: &Loaded) -> Duration {
    let t = &loaded.topology;
    t.load
        .iter()
        .map(|g| g.start + g.duration)
        .max()
        .unwrap_or_default()
}
