//! One run, start to finish: bind ports, start every replica, wait until all
//! are healthy, drive the load, drain, collect figures, stop every process and
//! write the run folder. The order matters and is kept in this one place.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use topolab_model::Loaded;
use topolab_results::{cascade, report, timeseries};
use topolab_services::ReplicaSpec;

use crate::collect;
use crate::faults::Timeline;
use crate::health;
use crate::keeper::Keeper;
use crate::live::{self, LiveMode, LiveView};
use crate::load::{self, StopSignals};
use crate::ports::Listeners;
use crate::run_folder::RunFolder;
use crate::summary::{self, Summary};
use crate::supervisor::{Fleet, LaunchSpec, ReplicaId};
use crate::telemetry::{self, Gatherer};
use crate::traces::{RunTraces, TraceOptions};

/// How to run.
pub struct RunOptions {
    /// `--out`: the run folder; default `runs/<name>-<timestamp>`.
    pub out: Option<PathBuf>,
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
}

/// What a finished run leaves.
pub struct RunResult {
    pub summary: Summary,
    pub folder: PathBuf,
    /// Each generator's closed recorder, for callers that need more than the
    /// summary's figures (a sweep merges their histograms).
    pub recorders: std::collections::BTreeMap<String, load::Recorder>,
}

/// Runs the topology. Errors are failures of the sandbox itself (a replica
/// that would not start, a folder that cannot be written), never of requests.
pub async fn run(loaded: &Loaded, opts: RunOptions) -> anyhow::Result<RunResult> {
    let topology = &loaded.topology;
    let folder = RunFolder::create(opts.out.as_deref(), &topology.name)?;
    folder.write_topology(&loaded.yaml)?;
    let say = |msg: String| {
        if opts.verbose {
            eprintln!("{msg}");
        }
    };

    let traces = RunTraces::start(topology.settings.trace, opts.trace.clone()).await?;
    if let Some(addr) = traces.collector_addr() {
        // On stderr even when quiet: outside exporters need it while the run goes on.
        eprintln!("span collector (OTLP/gRPC): http://{addr}");
    }
    let starting = Instant::now();
    let listeners = Listeners::bind(topology)?;
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
                metrics: Some("127.0.0.1:0".into()),
                discovery: None,
            };
            let config = serde_json::to_vec(&spec)?;
            let id = ReplicaId {
                service: service.clone(),
                index: index as u32,
            };
            let restart = topology
                .service(service)
                .is_some_and(|s| s.restart == topolab_model::Restart::Always);
            fleet.spawn(LaunchSpec {
                id,
                listener,
                config,
                restart,
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
    say(format!(
        "{n} replica process(es) healthy after {:.0} ms",
        healthy.as_secs_f64() * 1e3
    ));
    let metrics = crate::metrics_addrs::metrics_urls(&peers).await;
    if !metrics.is_empty() {
        say("Prometheus metrics (OpenMetrics text):".into());
        for (replica, url) in &metrics {
            say(format!("  {replica}  {url}"));
        }
    }

    let (stop_tx, stop) = watch::channel(false);
    let (abort_tx, abort) = watch::channel(false);
    // `q` or Ctrl-C in the dashboard (raw mode: no SIGINT) count as Ctrl-C.
    let (user_stop_tx, mut user_stop) = mpsc::unbounded_channel::<()>();
    let dashboard = opts.live == LiveMode::Dashboard;
    let interrupts = tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        for tx in [&stop_tx, &abort_tx] {
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.context("listening for Ctrl-C")?,
                _ = term.recv() => {}
                Some(()) = user_stop.recv() => {}
            }
            let _ = tx.send(true);
            if std::ptr::eq(tx, &stop_tx) && !dashboard {
                eprintln!(
                    "\nstopping the load; waiting for requests in flight (Ctrl-C again to abandon them)"
                );
            }
        }
        anyhow::Ok(())
    });

    let gatherer = Gatherer::start(&peers, topology.settings.sample_every)?;
    let (begin, begin_us) = telemetry::aligned_start(topology.settings.sample_every).await;
    let live_load = load::live_recorders(topology);
    let view = LiveView::start(
        // Without load the addresses printed above are what the user needs.
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
            planned: longest_load(loaded),
        },
        user_stop_tx,
    );
    // From here the fleet is shared with the restart keeper and the faults timeline.
    let fleet = Arc::new(Mutex::new(fleet));
    let keeper = Keeper::start(fleet.clone(), begin, opts.verbose);
    let timeline = Timeline::start(topology, fleet.clone(), peers.clone(), begin, opts.verbose);
    let recorders = if topology.load.is_empty() {
        say("no load in this topology: services are up until Ctrl-C".into());
        for r in fleet.lock().unwrap_or_else(|e| e.into_inner()).replicas() {
            say(format!("  {}  {}", r.id, r.addr));
        }
        let mut stop = stop.clone();
        let _ = stop.wait_for(|s| *s).await;
        Default::default()
    } else {
        say(format!(
            "sending load for up to {:.1} s",
            longest_load(loaded).as_secs_f64()
        ));
        let signals = StopSignals {
            stop: stop.clone(),
            abort,
        };
        let tracer = traces.generator_exporter();
        load::run_all(
            topology, &peers, opts.seed, begin, signals, &live_load, tracer,
        )
        .await?
    };
    let duration = begin.elapsed();
    view.finish();
    let interrupted = *stop.borrow();
    interrupts.abort();
    let fault_log = timeline.finish().await;
    let restarts = keeper.stop().await;
    let mut fleet = Arc::try_unwrap(fleet)
        .map_err(|_| anyhow::anyhow!("the fleet is still shared after the run"))?
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());

    let dead = fleet.exited();
    if let Some((id, status)) = dead.first() {
        say(format!(
            "warning: replica {id} died during the run ({status})"
        ));
    }
    let gathered = gatherer.finish().await;
    let figures = collect::collect(&peers).await;
    traces.flush_generators().await;
    // Blocks this thread while replicas flush their spans to the collector,
    // which must keep running on the others.
    tokio::task::block_in_place(|| fleet.stop(Duration::from_secs(2)));
    let figures = figures?;
    let replica_spans = figures.values().fold((0, 0), |(r, d), f| {
        (r + f.spans_recorded, d + f.spans_dropped)
    });
    let trace_summary = traces.finish(&folder.path, replica_spans).await?;

    let mut summary = summary::build(
        topology,
        opts.seed,
        duration.as_secs_f64(),
        interrupted,
        healthy.as_secs_f64() * 1e3,
        &recorders,
        &figures,
    );
    summary.traces = Some(trace_summary);
    summary.faults = fault_log;
    for (id, _) in &restarts {
        if let Some(s) = summary.services.get_mut(&id.service) {
            s.restarts += 1;
        }
    }
    let rows = telemetry::rows(&gathered, begin_us);
    folder.write_timeseries(&rows)?;
    summary.cascade = cascade::analyze(topology, &timeseries::by_service(&rows));
    folder.write_summary(&summary)?;
    if !topology.load.is_empty() {
        let csv = load::series::csv(&recorders, topology.settings.sample_every);
        folder.write_load_timeseries(&csv)?;
    }
    // Last: the report reads the files written above.
    if let Err(e) = report::write(&folder.path) {
        say(format!("warning: report.html not written: {e:#}"));
    }
    Ok(RunResult {
        summary,
        folder: folder.path,
        recorders,
    })
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
