//! `topolab run FILE --on swarm`: the same experiment on a Docker Swarm. The
//! topology is deployed as a stack (see [`crate::compose`]), and once every
//! service runs all its replicas, the load driver (`topolab drive`, in a
//! container of the same image attached to the stack's network) finds them
//! by DNS, waits until all are healthy, sends the load, applies the faults to
//! containers through the Engine's socket, and writes the run folder into a
//! folder of this machine mounted at the same path. The stack is removed
//! afterwards, also on failure and on Ctrl-C (forwarded to the driver, which
//! stops the load and still writes the folder): no service, container,
//! network or config of the run is left. If the launcher itself is killed
//! (even with SIGKILL), its guardian ([`crate::guardian`]) removes the stack.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal};
use topolab_model::Loaded;

use crate::container::{COLLECTOR_PORT, TOPOLOGY_PATH};
use crate::guardian::Guardian;
use crate::{compose, engine, image};

/// How long the stack's services may take to run all their replicas.
const DEPLOY_LIMIT: Duration = Duration::from_secs(90);
/// How long removing the stack may take before the run reports what is left.
const REMOVE_LIMIT: Duration = Duration::from_secs(60);

/// What a run on the Swarm says about a topology's network.
pub const SHAPED_NOTE: &str = "network: on Swarm the links are shaped by each calling replica, in user space, on its own connections to its callees' tasks (this kernel has no netem, and so no NET_ADMIN is needed): delay, jitter and bandwidth per write, a loss as the stall TCP would take to repair it (a 10 ms probe, 200 ms when that is lost too), a partition as held bytes and refused connections; link faults reach the replicas over Control/SetLinks at their times";

/// What one run on the Swarm needs.
pub struct SwarmRun<'a> {
    /// The topology as it runs (overrides applied, seed pinned).
    pub loaded: &'a Loaded,
    /// The image to build and run.
    pub image: String,
    /// The run folder on this machine (absolute; created empty).
    pub out: PathBuf,
    /// Flags passed on to the driver (`--quiet`, `--json`).
    pub driver_flags: Vec<String>,
    /// `--otlp-endpoint`: an outside OTLP/gRPC collector the replicas and
    /// the driver send every span to as well (an address containers reach).
    pub otlp_endpoint: Option<String>,
    /// `--otlp-only`: to that collector only (no traces.jsonl).
    pub otlp_only: bool,
}

/// A deployed stack; dropping it removes the stack, waits until nothing of
/// it is left, then dismisses its guardian.
pub struct Stack {
    pub name: String,
    guardian: Option<Guardian>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let removed = remove(&self.name);
        if let Err(e) = &removed {
            eprintln!("warning: {e:#}");
        }
        if let Some(g) = self.guardian.take() {
            match removed {
                Ok(()) => g.dismiss(),
                Err(_) => g.hand_over(),
            }
        }
    }
}

/// Runs the experiment; returns the driver's exit status (0 when the
/// experiment ran, 2 when the sandbox failed).
pub fn run(r: &SwarmRun<'_>) -> anyhow::Result<i32> {
    let topology = &r.loaded.topology;
    let binary = std::env::current_exe().context("finding this executable for the image")?;
    image::build(&binary, &r.image).context("building the image")?;
    let work = std::env::temp_dir().join(format!("topolab-swarm-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let _work = RemoveDir(work.clone());
    let name = stack_name(&topology.name);
    let mut stack_file = compose::compose(topology, &r.image);
    if topology.settings.trace > 0.0 {
        let ours = (!r.otlp_only).then(|| collector_endpoint(&name));
        let all: Vec<String> = ours.into_iter().chain(r.otlp_endpoint.clone()).collect();
        send_spans_to(&mut stack_file, &all.join(","));
    }
    std::fs::write(work.join(compose::COMPOSE_FILE), crate::yaml(&stack_file))?;
    std::fs::write(work.join(compose::TOPOLOGY_FILE), &r.loaded.yaml)?;
    std::fs::create_dir_all(&r.out).with_context(|| format!("creating {}", r.out.display()))?;

    let stack = Stack {
        guardian: Some(Guardian::start(&binary, &name)?),
        name,
    };
    if topology.network.in_use() {
        eprintln!("{SHAPED_NOTE}");
    }
    eprintln!(
        "deploying stack {} ({} replicas)",
        stack.name,
        topology.process_count()
    );
    let deploying = Instant::now();
    docker(
        &[
            "stack",
            "deploy",
            "--compose-file",
            compose::COMPOSE_FILE,
            &stack.name,
        ],
        Some(&work),
    )?;
    wait_running(&stack.name, topology.services.len())?;
    eprintln!(
        "every service runs its replicas after {:.1} s",
        deploying.elapsed().as_secs_f64()
    );
    drive(r, &stack.name, &work)
}

/// Starts the driver in the stack's network and waits for it, forwarding
/// Ctrl-C and SIGTERM to it.
fn drive(r: &SwarmRun<'_>, stack: &str, work: &Path) -> anyhow::Result<i32> {
    let out = r.out.display().to_string();
    let topology = work.join(compose::TOPOLOGY_FILE);
    let mut cmd = Command::new("docker");
    cmd.args(["run", "--rm", "--name", &driver_name(stack)])
        .args(["--label", &format!("com.docker.stack.namespace={stack}")])
        .args(["--network", &format!("{stack}_{}", compose::NETWORK)])
        .args(["-v", &format!("{}:{}", engine::SOCKET, engine::SOCKET)])
        .args(["-v", &format!("{out}:{out}")])
        .args(["-v", &format!("{}:{TOPOLOGY_PATH}:ro", topology.display())])
        .arg(&r.image)
        .args(["drive", TOPOLOGY_PATH, "--peers-dns", "tasks.{service}"])
        .args(["--stack", stack, "--out", &out])
        .args(&r.driver_flags)
        // Its own process group: a terminal's Ctrl-C reaches this process
        // only, which forwards it once (a second one abandons requests).
        .process_group(0);
    if !r.otlp_only {
        cmd.args(["--collector-listen", &format!("0.0.0.0:{COLLECTOR_PORT}")]);
    }
    if let Some(e) = &r.otlp_endpoint {
        cmd.args(["--otlp-endpoint", e]);
    }
    if r.otlp_only {
        cmd.arg("--otlp-only");
    }
    let mut child = cmd.spawn().context("starting the load driver container")?;
    let signals = Arc::new(AtomicUsize::new(0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    {
        let signals = signals.clone();
        rt.spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                signals.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let mut forwarded = 0;
    let status = loop {
        // The signal watcher runs while this current-thread runtime is driven.
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
        let wanted = signals.load(Ordering::SeqCst);
        while forwarded < wanted {
            // Our own child, not yet reaped: its pid is its own.
            let _ = rustix::process::kill_process(Pid::from_child(&child), Signal::INT);
            forwarded += 1;
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
    };
    Ok(status.code().unwrap_or(2))
}

/// Where the stack's replicas send their spans: the driver's collector, by
/// its container's name (resolved once the driver runs; before that a
/// replica's exporter fails, counts and retries on the next batch).
fn collector_endpoint(stack: &str) -> String {
    format!("http://{}:{COLLECTOR_PORT}", driver_name(stack))
}

/// Points every replica service of `stack_file` at `endpoints` (comma
/// separated) through the replica's own `TOPOLAB_OTLP_ENDPOINTS`.
fn send_spans_to(stack_file: &mut serde_json::Value, endpoints: &str) {
    let Some(services) = stack_file["services"].as_object_mut() else {
        return;
    };
    for service in services.values_mut() {
        service["environment"]["TOPOLAB_OTLP_ENDPOINTS"] = serde_json::json!(endpoints);
    }
}

/// `topolab-<name>-<pid>`, in the letters stack names allow.
pub fn stack_name(topology: &str) -> String {
    let name: String = topology
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("topolab-{name}-{}", std::process::id())
}

/// Waits until every service of `stack` runs all its replicas.
fn wait_running(stack: &str, services: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let out = docker(
            &[
                "service",
                "ls",
                "--filter",
                &format!("label=com.docker.stack.namespace={stack}"),
                "--format",
                "{{.Name}} {{.Replicas}}",
            ],
            None,
        )?;
        let lines: Vec<&str> = out.lines().collect();
        let ready = lines
            .iter()
            .filter(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|r| r.split_once('/'))
                    .is_some_and(|(a, b)| a == b && a != "0")
            })
            .count();
        if lines.len() == services && ready == services {
            return Ok(());
        }
        if started.elapsed() > DEPLOY_LIMIT {
            bail!("the stack's services did not all run within {DEPLOY_LIMIT:?}:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Removes `stack` and waits until none of its services, containers,
/// networks or configs is left.
pub fn remove(stack: &str) -> anyhow::Result<()> {
    let label = format!("label=com.docker.stack.namespace={stack}");
    let _ = docker(&["stack", "rm", stack], None);
    // The driver is no service of the stack: a killed launcher leaves it
    // running (it holds the network); when the run ended it is gone already.
    let _ = docker(&["rm", "--force", &driver_name(stack)], None);
    let started = Instant::now();
    loop {
        let left: Vec<String> = [
            vec!["service", "ls", "-q", "--filter", &label],
            vec!["ps", "-aq", "--filter", &label],
            vec!["network", "ls", "-q", "--filter", &label],
            vec!["config", "ls", "-q", "--filter", &label],
        ]
        .iter()
        .filter_map(|args| docker(args, None).ok())
        .flat_map(|out| out.lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
        if left.is_empty() {
            return Ok(());
        }
        if started.elapsed() > REMOVE_LIMIT {
            bail!("stack {stack} not fully removed after {REMOVE_LIMIT:?}: {left:?} remain");
        }
        // A network whose containers are gone may need asking again.
        let _ = docker(
            &["network", "rm", &format!("{stack}_{}", compose::NETWORK)],
            None,
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The load driver's container name, which the stack's network resolves.
fn driver_name(stack: &str) -> String {
    format!("{stack}-driver")
}

/// Runs `docker ARGS`; its stdout, or an error with its stderr.
fn docker(args: &[&str], dir: Option<&Path>) -> anyhow::Result<String> {
    let mut cmd = Command::new("docker");
    cmd.args(args).stdin(Stdio::null());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd
        .output()
        .with_context(|| format!("running `docker {}` (is Docker installed?)", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`docker {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A folder removed when dropped.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_replica_sends_spans_to_the_driver_by_name() {
        let t = topolab_model::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/chain.yaml"),
            &[],
        )
        .unwrap()
        .topology;
        let mut c = compose::compose(&t, "img:1");
        send_spans_to(&mut c, &collector_endpoint("topolab-chain-7"));
        for s in &t.services {
            assert_eq!(
                c["services"][&s.name]["environment"]["TOPOLAB_OTLP_ENDPOINTS"],
                "http://topolab-chain-7-driver:4317"
            );
        }
    }
}
