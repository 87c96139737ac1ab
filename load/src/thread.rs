//! Each generator runs on a thread of its own, on a single-threaded runtime
//! that also holds its connections. A request is then made, written, read
//! and recorded by the one thread that woke for it, as h2load's are: on the
//! launcher's shared runtime a paced request passed through three threads
//! before it left (the worker woken by the pacer, a second worker it woke,
//! the connection's task), each hand-off a wake-up of an idle core, which
//! at low rates made an open-loop request cost twice a lone client's.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::sync::oneshot;
use topolab_model::Generator;
use topolab_services::trace::Exporter;

use super::mix::Mix;
use super::{Recorder, StopSignals, run_one};

/// How one generator runs: where it sends, what it traces, when it starts.
pub struct Launch {
    pub generator: Generator,
    pub peers: BTreeMap<String, Vec<SocketAddr>>,
    pub tracer: Option<Exporter>,
    /// The share of requests traced (0: every request says unsampled).
    pub rate: f64,
    pub begin: Instant,
    pub seed: u64,
    pub signals: StopSignals,
    pub recorder: Arc<Mutex<Recorder>>,
    /// The lab's knob: run until stopped, following it.
    pub knob: Option<super::Knob>,
    /// Where the replicas called are moved while the load runs.
    pub book: Option<Arc<super::Book>>,
}

/// Starts `launch`'s generator on a thread of its own; the result is its
/// recorder, closed, once it is done and drained, or why it could not run.
/// Dropping the receiver abandons the generator: its requests in flight are
/// dropped and the thread ends.
pub fn spawn(launch: Launch) -> anyhow::Result<oneshot::Receiver<anyhow::Result<Recorder>>> {
    let (mut done, result) = oneshot::channel();
    let name = format!("topolab-load-{}", launch.generator.name);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            if let Some(recorder) = run(launch, &mut done) {
                let _ = done.send(recorder);
            }
        })
        .context("could not start a load generator's thread")?;
    Ok(result)
}

/// Runs one generator to its end on the calling thread, or until nobody
/// waits for it (`None`). Its channels are opened here, so that their tasks
/// run on this runtime too.
fn run(
    launch: Launch,
    done: &mut oneshot::Sender<anyhow::Result<Recorder>>,
) -> Option<anyhow::Result<Recorder>> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Some(Err(e).context("could not start a load generator's runtime")),
    };
    let Launch {
        generator,
        peers,
        tracer,
        rate,
        begin,
        seed,
        signals,
        recorder,
        knob,
        book,
    } = launch;
    let name = generator.name.clone();
    // Dropping the runtime on the way out drops every task left on it.
    runtime.block_on(async move {
        let mix = match Mix::new(&generator, &peers, tracer, rate) {
            Ok(mix) => Arc::new(mix),
            Err(e) => return Some(Err(e)),
        };
        if let Some(b) = book {
            mix.follow(b);
        }
        // As a task, not as the future `block_on` polls: a task woken on
        // this thread is queued here, whereas waking `block_on`'s future
        // writes the runtime's eventfd, a system call and a spurious
        // return from epoll for every due time and every answer.
        let run = tokio::spawn(async move {
            run_one(&generator, mix, begin, seed, signals, recorder, knob).await
        });
        tokio::select! {
            joined = run => Some(
                joined
                    .context("a load generator task failed")
                    .and_then(|ran| ran)
                    .with_context(|| format!("load generator `{name}`")),
            ),
            () = done.closed() => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::watch;

    /// An open loop at 1,000/s for a minute, at a port nobody listens on.
    fn launch(recorder: Arc<Mutex<Recorder>>, signals: StopSignals) -> Launch {
        let yaml = "name: t\nservices:\n  s:\n    endpoints:\n      E: {}\nload:\n  g:\n    target: s/E\n    rate: 1000/s\n    duration: 60s\n";
        let topology = topolab_model::load_str("t.yaml", yaml, &[])
            .unwrap()
            .topology;
        Launch {
            generator: topology.load[0].clone(),
            peers: BTreeMap::from([("s".to_string(), vec!["127.0.0.1:1".parse().unwrap()])]),
            tracer: None,
            rate: 0.0,
            begin: Instant::now(),
            seed: 1,
            signals,
            recorder,
            knob: None,
            book: None,
        }
    }

    fn sent(r: &Mutex<Recorder>) -> u64 {
        r.lock().sent
    }

    /// The generator of [`launch`], started: its recorder, its stop and
    /// abort senders, and its result.
    type Started = (
        Arc<Mutex<Recorder>>,
        [watch::Sender<bool>; 2],
        oneshot::Receiver<anyhow::Result<Recorder>>,
    );

    /// Starts [`launch`]'s generator and lets it send for 200 ms.
    async fn start() -> Started {
        let recorder = Arc::new(Mutex::new(Recorder::default()));
        let (stop_tx, stop) = watch::channel(false);
        let (abort_tx, abort) = watch::channel(false);
        let result = spawn(launch(recorder.clone(), StopSignals { stop, abort })).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        (recorder, [stop_tx, abort_tx], result)
    }

    #[tokio::test]
    async fn a_generator_nobody_waits_for_stops_sending() {
        let (recorder, _signals, result) = start().await;
        assert!(sent(&recorder) > 0, "the generator never sent");
        drop(result);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let then = sent(&recorder);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sent(&recorder), then, "still sending once abandoned");
    }

    #[tokio::test]
    async fn a_stopped_generator_returns_its_recorder() {
        let (recorder, [stop, _abort], result) = start().await;
        stop.send(true).unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(20), result)
            .await
            .expect("the generator did not end when stopped")
            .unwrap()
            .unwrap();
        assert!(closed.sent > 0);
        assert_eq!(closed.sent, sent(&recorder));
    }
}
