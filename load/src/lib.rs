//! The load: every generator of the topology runs at once, each open or closed
//! loop, against its target's replicas. A first stop signal ends issuing and
//! lets in-flight requests finish (within their deadline); a second abandons
//! them, and they are counted as CANCELLED so the counts still add up.
//!
//! It owns the askers: their pacing, their connections and what they saw
//! (recorders, series, the request sample). It starts no replica and reads no
//! replica's own figures.

mod closed;
pub mod dots;
mod held;
mod http2;
mod issuing;
pub mod knob;
mod mix;
mod open;
mod pacer;
pub mod recorder;
pub mod sample;
pub mod series;
pub mod shape;
mod target;
mod thread;
pub mod updates;
pub mod warmup;

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinSet;
use topolab_model::{Generator, Pattern, Topology};

use issuing::Issuing;
pub use knob::{Book, Knob, Knobs};
use mix::Mix;
pub use recorder::{Outcome, Recorder};
pub use sample::Reservoir;
pub use series::Series;

/// The two signals the user can give: stop issuing, then abandon in-flight.
#[derive(Clone)]
pub struct StopSignals {
    pub stop: watch::Receiver<bool>,
    pub abort: watch::Receiver<bool>,
}

/// Every generator's recorder while the run goes on, by generator name, for
/// live displays (progress line, dashboard) and per-interval figures. Lock
/// each recorder briefly: the generator's requests record into it.
pub type LiveLoad = BTreeMap<String, Arc<Mutex<Recorder>>>;

/// The recorders `run_all` will fill, created up front so readers can hold
/// them before the load starts.
pub fn live_recorders(topology: &Topology) -> LiveLoad {
    topology
        .load
        .iter()
        .map(|g| (g.name.clone(), Arc::new(Mutex::new(Recorder::default()))))
        .collect()
}

/// What a run's load is sent with.
pub struct LoadRun<'a> {
    /// Its generators, and the settings they follow.
    pub topology: &'a Topology,
    /// Every service's replicas, by address.
    pub peers: &'a BTreeMap<String, Vec<SocketAddr>>,
    /// The run's seed; each generator draws its own from it.
    pub seed: u64,
    /// When the load starts (each generator adds its own `start`).
    pub begin: Instant,
    /// The user's stop and abort.
    pub signals: StopSignals,
    /// The recorders live displays read (see [`live_recorders`]).
    pub live: &'a LiveLoad,
    /// Where the generators' root spans go, when traced.
    pub tracer: Option<topolab_services::trace::Exporter>,
    /// The run folder, for `load_timeseries.csv` and `updates_timeseries.csv`.
    pub folder: &'a Path,
    /// The lab's knobs: with them every generator runs until stopped,
    /// follows its knob, and records its requests' [`dots`].
    pub knobs: Option<&'a Knobs>,
    /// Where the replicas generators call are moved while the load runs
    /// (replicas in containers started again at new addresses); the lab's
    /// knobs carry their own.
    pub book: Option<Arc<Book>>,
}

/// Runs every generator from `run.begin` until it is done and drained,
/// recording into `run.live` and writing `load_timeseries.csv` in
/// `run.folder` as intervals end; returns each generator's recorder by name,
/// closed (counts add up to `sent`).
pub async fn run_all(run: LoadRun<'_>) -> anyhow::Result<BTreeMap<String, Recorder>> {
    let LoadRun {
        topology,
        peers,
        seed,
        begin,
        signals,
        live,
        tracer,
        folder,
        knobs,
        book,
    } = run;
    for generator in &topology.load {
        Mix::check(generator, peers)?;
    }
    let mut tasks = JoinSet::new();
    let mut used = LiveLoad::new();
    for (i, generator) in topology.load.iter().enumerate() {
        let recorder = live
            .get(&generator.name)
            .cloned()
            .unwrap_or_else(|| Arc::new(Mutex::new(Recorder::default())));
        used.insert(generator.name.clone(), recorder.clone());
        {
            let mut r = recorder.lock();
            r.series = Some(Series::new(begin, topology.settings.sample_every));
            r.sample = Some(Reservoir::new(begin, seed ^ i as u64));
            r.freshness = updates::freshness(topology, generator, seed, begin);
            if knobs.is_some() {
                r.dots = Some(dots::Dots::default());
            }
        }
        let knob = knobs.map(|k| k.get(&generator.name).cloned().unwrap_or_default());
        let done = thread::spawn(thread::Launch {
            generator: held_until_stopped(generator, knob.is_some()),
            book: knob.as_ref().map(Knob::book).or_else(|| book.clone()),
            knob,
            peers: peers.clone(),
            tracer: tracer.clone(),
            rate: topology.settings.trace,
            begin,
            seed: seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1)),
            signals: signals.clone(),
            recorder,
        })?;
        let name = generator.name.clone();
        tasks.spawn(async move { (name, done.await) });
    }
    let mut out = BTreeMap::new();
    let file = series::SeriesFile::create(folder, topology.settings.sample_every)?;
    let staleness = updates::StalenessFile::new(folder);
    let drainer = series::Drainer::start(used.clone(), file, staleness);
    while let Some(done) = tasks.join_next().await {
        let (name, recorder) = done.context("a load generator task failed")?;
        let recorder = recorder.context("a load generator's thread panicked")??;
        out.insert(name, recorder);
    }
    drainer.finish(&used).await?;
    Ok(out)
}

/// How long a lab's following clients (which have no knob) keep their
/// last stage: until the lab is stopped, in practice.
const HELD: std::time::Duration = std::time::Duration::from_secs(400 * 24 * 3600);

/// `generator`, with its last stage held until stopped when `held` (a
/// lab's following clients; its other loops hold their stages themselves).
fn held_until_stopped(generator: &Generator, held: bool) -> Generator {
    let mut g = generator.clone();
    if let (true, Some(_), Pattern::Closed { stages, .. }) = (held, g.follow, &mut g.pattern)
        && let Some(last) = stages.last_mut()
    {
        last.duration += HELD;
    }
    g
}

/// Runs one generator to its end and drains it; its recorder, closed, or
/// why it could not send (its pacer did not start). With a `knob` it runs
/// until the first stop and follows the knob.
async fn run_one(
    generator: &Generator,
    target: Arc<Mix>,
    begin: Instant,
    seed: u64,
    signals: StopSignals,
    recorder: Arc<Mutex<Recorder>>,
    knob: Option<Knob>,
) -> anyhow::Result<Recorder> {
    let mut in_flight = JoinSet::new();
    let l = Issuing {
        mix: target,
        begin: begin + generator.start,
        seed,
        recorder: recorder.clone(),
        stop: signals.stop.clone(),
        in_flight: &mut in_flight,
    };
    match (&generator.pattern, &knob) {
        (Pattern::Closed { stages, .. }, _) if let Some(way) = generator.follow => {
            updates::run(l, way, stages).await
        }
        (Pattern::Open { arrivals, stages }, Some(k)) => held::open(l, stages, *arrivals, k).await,
        (Pattern::Closed { think, stages }, Some(k)) => held::closed(l, stages, *think, k).await,
        (Pattern::Open { arrivals, stages }, None) => open::run(l, stages, *arrivals).await?,
        (Pattern::Closed { think, stages }, None) => closed::run(l, stages, *think).await,
    }
    let mut abort = signals.abort;
    loop {
        tokio::select! {
            next = in_flight.join_next() => if next.is_none() { break },
            _ = abort.wait_for(|a| *a) => { in_flight.abort_all(); break }
        }
    }
    // Closed in place, so that the series and staleness files take their
    // last interval (an unclosed one is taken only once it has ended, and
    // the files' last drain comes before that: what clients received in
    // it was missing from updates_timeseries.csv).
    let mut live = recorder.lock();
    live.close();
    let end = live.issue_end.unwrap_or_else(Instant::now);
    if let Some(f) = &mut live.freshness {
        f.close(end);
    }
    Ok(live.clone())
}
