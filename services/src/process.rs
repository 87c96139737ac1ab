//! The replica as an OS process: logging to stderr, a one-thread tokio
//! runtime, and the three ways a replica is told to stop (the launcher's
//! `Control/Shutdown`, SIGTERM/SIGINT, and, under a launcher, its parent
//! vanishing), all feeding the one [`Shutdown`] signal.

use std::time::Duration;

use std::io::IsTerminal;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::server::serve;
use crate::shutdown::Shutdown;
use crate::spec::ReplicaSpec;

/// Environment variable with the log filter (tracing syntax); default `warn`.
pub const LOG_ENV: &str = "TOPOLAB_LOG";

/// How often the replica checks that its launcher is still alive. Only a
/// safety net: the launcher sets PR_SET_PDEATHSIG on every replica, so the
/// kernel ends it when the launcher dies; rare checks keep idle replicas idle.
const PARENT_CHECK: Duration = Duration::from_secs(5);

/// Runs this process as the replica `spec` describes, serving on the already
/// bound `listener` (inherited from the launcher, so ports never race), until
/// the launcher asks it to stop or it receives SIGTERM/SIGINT.
pub fn run_process(spec: ReplicaSpec, listener: std::net::TcpListener) -> anyhow::Result<()> {
    run(spec, listener, true)
}

/// Runs a replica started by anyone (a container engine, a shell): as
/// [`run_process`], but without stopping when its parent goes, since no
/// launcher owns it (PID 1 of a container has no parent to watch).
pub fn run_standalone(spec: ReplicaSpec, listener: std::net::TcpListener) -> anyhow::Result<()> {
    run(spec, listener, false)
}

fn run(
    spec: ReplicaSpec,
    listener: std::net::TcpListener,
    watch_parent: bool,
) -> anyhow::Result<()> {
    init_logging();
    let name = spec.replica_name();
    // One thread: every request, timer and downstream answer wakes the
    // thread that serves it, never a second worker to steal the work. With
    // 250 replicas serving 500/s through three tiers, two workers each kept
    // 74% of this 2-core machine busy and `work` ran 49% long; one kept it
    // 43% busy (and `work` 8% long). One saturated replica served as much
    // or more (h2load: 176-184k/s against 162-169k/s), and a hop at 50/s
    // and 200/s cost the same. (The name is for its blocking threads.)
    let rt = tokio::runtime::Builder::new_current_thread()
        .thread_name("topolab-replica")
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let result = rt.block_on(async move {
        listener
            .set_nonblocking(true)
            .context("making the listener non-blocking")?;
        let listener =
            tokio::net::TcpListener::from_std(listener).context("adopting the listener")?;
        let shutdown = Shutdown::new();
        tokio::spawn(stop_on_signals(shutdown.clone()));
        if watch_parent {
            tokio::spawn(stop_when_orphaned(shutdown.clone()));
        }
        // A task, not `block_on`'s own future: waking that one goes through
        // the runtime's unpark, an eventfd write, on every wake-up.
        tokio::spawn(serve(spec, listener, shutdown))
            .await
            .context("the replica's task")?
            .with_context(|| format!("replica {name}"))
    });
    // Tasks still running (callers' retries, the signal watchers) are not waited for.
    rt.shutdown_timeout(Duration::from_millis(200));
    result
}

fn init_logging() {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("warn"));
    // Already set (a second replica in one test process): keep the first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

async fn stop_on_signals(shutdown: Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot listen for SIGTERM/SIGINT; relying on Control/Shutdown");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    shutdown.trigger();
}

/// A safety net for a launcher killed without PR_SET_PDEATHSIG taking effect:
/// once re-parented (to init or a subreaper), stop.
async fn stop_when_orphaned(shutdown: Shutdown) {
    let pid = |p: Option<rustix::process::Pid>| rustix::process::Pid::as_raw(p);
    let parent = pid(rustix::process::getppid());
    loop {
        tokio::time::sleep(PARENT_CHECK).await;
        let now = pid(rustix::process::getppid());
        if now != parent || now == 1 {
            tracing::warn!(parent, now, "launcher is gone: shutting down");
            shutdown.trigger();
            return;
        }
    }
}
