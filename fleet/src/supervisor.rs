//! Spawning and owning a run's replica processes. Every child is put in one
//! process group of its own (so a terminal's Ctrl-C reaches only the launcher,
//! which then stops the run in order) and gets a parent-death signal, so no
//! replica outlives the launcher, even when the launcher is killed with SIGKILL.
//!
//! Linux sends the parent-death signal when the *thread* that forked the child
//! exits, not the process. Async runtimes retire idle threads, so all children
//! are forked from one dedicated spawner thread that lives as long as the fleet.
//!
//! A replica may be given a network namespace (a host of its own, when the
//! topology models the network): its process enters it before exec.
//!
//! A replica of a `restart: always` service keeps its listening socket in the
//! fleet too, so [`Fleet::restart_exited`] can start a fresh process on the
//! same address; meanwhile connections wait in the socket's backlog. Other
//! replicas' sockets live only in their process: when it dies, the port
//! refuses connections, as a dead server's does.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use rustix::process::{Pid, Signal};

/// The fd number at which every replica finds its inherited listening socket.
pub const LISTEN_FD: i32 = 3;

/// `service#index`: how users name one replica.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplicaId {
    pub service: String,
    pub index: u32,
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.service, self.index)
    }
}

/// One running replica process.
pub struct Replica {
    pub id: ReplicaId,
    pub addr: SocketAddr,
    /// Where the replica's stderr goes, to show when it fails.
    pub log: PathBuf,
    child: Child,
    exited: Option<ExitStatus>,
    /// What a restart needs: the configuration and, for `restart: always`,
    /// the fleet's own copy of the listening socket.
    config: Vec<u8>,
    listener: Option<TcpListener>,
    /// The network namespace its processes run in (restarts included).
    netns: Option<OwnedFd>,
    /// Fresh processes started after this replica's process died.
    pub restarts: u32,
}

impl Replica {
    /// The OS process id, for signals (faults) and diagnostics.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the replica wrote to stderr.
    pub fn stderr_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// What a replica process is started from.
pub struct LaunchSpec<'a> {
    pub id: ReplicaId,
    pub listener: &'a TcpListener,
    /// JSON written to the child's stdin, then stdin is closed.
    pub config: Vec<u8>,
    /// `restart: always`: keep a copy of the listener to restart on.
    pub restart: bool,
    /// The network namespace to run in (`None`: the launcher's own).
    pub netns: Option<BorrowedFd<'a>>,
}

/// A run's replica processes. Dropping it kills and reaps every one of them.
pub struct Fleet {
    program: PathBuf,
    args: Vec<String>,
    log_dir: PathBuf,
    replicas: Vec<Replica>,
    pgid: Option<Pid>,
    spawner: Option<Spawner>,
}

impl Fleet {
    /// A fleet whose replicas run `program args...`, logging to `log_dir`.
    pub fn new(program: PathBuf, args: Vec<String>, log_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;
        Ok(Fleet {
            program,
            args,
            log_dir: log_dir.to_path_buf(),
            replicas: Vec::new(),
            pgid: None,
            spawner: Some(Spawner::start()?),
        })
    }

    /// Starts one replica, handing it `spec.listener` as fd [`LISTEN_FD`].
    pub fn spawn(&mut self, spec: LaunchSpec<'_>) -> anyhow::Result<()> {
        let log = self
            .log_dir
            .join(format!("{}-{}.stderr", spec.id.service, spec.id.index));
        let stderr = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let kept = if spec.restart {
            Some(
                spec.listener
                    .try_clone()
                    .context("keeping a listener for restarts")?,
            )
        } else {
            None
        };
        let netns = spec
            .netns
            .map(|fd| fd.try_clone_to_owned())
            .transpose()
            .context("keeping the replica's network namespace")?;
        let child = self.start(&spec.id, spec.listener, stderr, netns.as_ref())?;
        let addr = spec.listener.local_addr()?;
        let replica = Replica {
            id: spec.id,
            addr,
            log,
            child,
            exited: None,
            config: spec.config,
            listener: kept,
            netns,
            restarts: 0,
        };
        self.replicas.push(replica);
        let last = self.replicas.len() - 1;
        self.configure(last)
    }

    /// Forks one replica process on `listener`, its stderr to `stderr`.
    fn start(
        &mut self,
        id: &ReplicaId,
        listener: &TcpListener,
        stderr: File,
        netns: Option<&OwnedFd>,
    ) -> anyhow::Result<Child> {
        if self.replicas.iter().all(|r| r.exited.is_some()) {
            // Every process of the group is gone, and the group with them:
            // a fresh process leads a new one (joining the old id fails).
            self.pgid = None;
        }
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(Pid::as_raw(self.pgid));
        let fd = listener.as_raw_fd();
        let netns = netns.map(AsRawFd::as_raw_fd);
        let parent = Some(rustix::process::getpid());
        // SAFETY: the closure runs between fork and exec and only makes
        // async-signal-safe system calls (prctl, getppid, setns, dup2,
        // fcntl) and allocates nothing.
        unsafe {
            cmd.pre_exec(move || child_setup(fd, netns, parent));
        }
        let spawner = self
            .spawner
            .as_ref()
            .ok_or_else(|| anyhow!("fleet is stopping"))?;
        let child = spawner
            .spawn(cmd)
            .with_context(|| format!("starting {id}"))?;
        if self.pgid.is_none() {
            self.pgid = Some(Pid::from_child(&child));
        }
        Ok(child)
    }

    /// Writes replica `i`'s configuration to its stdin, then closes it.
    fn configure(&mut self, i: usize) -> anyhow::Result<()> {
        let replica = &mut self.replicas[i];
        // Cannot fail: stdin was set to piped in `start`.
        let mut stdin = replica.child.stdin.take().expect("piped stdin");
        let written = stdin.write_all(&replica.config);
        drop(stdin);
        if let Err(e) = written {
            std::thread::sleep(Duration::from_millis(50));
            let tail = replica.stderr_tail(20);
            let id = replica.id.clone();
            return Err(e).with_context(|| {
                format!("replica {id} did not take its configuration (it exited at once?); its stderr:\n{tail}")
            });
        }
        Ok(())
    }

    /// Rewrites the configuration each replica is (re)started from; what is
    /// known only once the load starts (its start instant) reaches restarts.
    pub fn reconfigure(&mut self, mut f: impl FnMut(&ReplicaId, &[u8]) -> Vec<u8>) {
        for r in &mut self.replicas {
            r.config = f(&r.id, &r.config);
        }
    }

    /// Starts a fresh process for every `restart: always` replica whose
    /// process has died, on its same address; returns those restarted.
    pub fn restart_exited(&mut self) -> Vec<ReplicaId> {
        // Only replicas that can be restarted are looked at: with a thousand
        // replicas, reaping all of them fifty times a second costs a core.
        for r in self.replicas.iter_mut().filter(|r| r.listener.is_some()) {
            if r.exited.is_none()
                && let Ok(Some(status)) = r.child.try_wait()
            {
                r.exited = Some(status);
            }
        }
        let mut out = Vec::new();
        for i in 0..self.replicas.len() {
            let r = &self.replicas[i];
            let (Some(_), Some(listener)) = (r.exited, &r.listener) else {
                continue;
            };
            let (id, log) = (r.id.clone(), r.log.clone());
            let Ok(listener) = listener.try_clone() else {
                continue;
            };
            let netns = match r.netns.as_ref().map(OwnedFd::try_clone).transpose() {
                Ok(n) => n,
                Err(_) => continue,
            };
            let stderr = match OpenOptions::new().append(true).open(&log) {
                Ok(f) => f,
                Err(_) => continue,
            };
            match self.start(&id, &listener, stderr, netns.as_ref()) {
                Ok(child) => {
                    let r = &mut self.replicas[i];
                    r.child = child;
                    r.exited = None;
                    r.restarts += 1;
                    if self.configure(i).is_ok() {
                        out.push(id);
                    }
                }
                Err(e) => tracing::warn!("restarting {id}: {e:#}"),
            }
        }
        out
    }

    /// Starts a fresh process for replica `id` when its process has died
    /// (the lab's restart), on its same address: on the fleet's own copy of
    /// the listener for `restart: always`, else on a listener bound anew.
    pub fn restart(&mut self, id: &ReplicaId) -> anyhow::Result<()> {
        self.exited();
        let i = self
            .replicas
            .iter()
            .position(|r| &r.id == id)
            .ok_or_else(|| anyhow!("there is no replica {id}"))?;
        let r = &self.replicas[i];
        if r.exited.is_none() {
            return Err(anyhow!("{id} is running: kill it first"));
        }
        let listener = match &r.listener {
            Some(l) => l.try_clone()?,
            None => TcpListener::bind(r.addr).with_context(|| format!("binding {}", r.addr))?,
        };
        let netns = r.netns.as_ref().map(OwnedFd::try_clone).transpose()?;
        let stderr = OpenOptions::new().append(true).open(&r.log)?;
        let child = self.start(id, &listener, stderr, netns.as_ref())?;
        let r = &mut self.replicas[i];
        r.child = child;
        r.exited = None;
        r.restarts += 1;
        self.configure(i)
    }

    /// Sends `signal` to the live processes of `target` (one replica, or
    /// every replica of a service); returns the replicas signalled.
    pub fn signal(&mut self, service: &str, index: Option<u32>, signal: Signal) -> Vec<ReplicaId> {
        self.exited();
        let mut out = Vec::new();
        for r in &self.replicas {
            if r.id.service != service
                || index.is_some_and(|i| i != r.id.index)
                || r.exited.is_some()
            {
                continue;
            }
            // A child this fleet started and has not reaped: its pid is its own.
            if rustix::process::kill_process(Pid::from_child(&r.child), signal).is_ok() {
                out.push(r.id.clone());
            }
        }
        out
    }

    /// What a new replica of `service` starts from (the lab's replicas up):
    /// the configuration its first replica was given, whether it is
    /// `restart: always`, and whether it runs in a network namespace of
    /// its own (a run with links: a new host the network lacks).
    pub fn template(&self, service: &str) -> Option<(Vec<u8>, bool, bool)> {
        let r = self.replicas.iter().find(|r| r.id.service == service)?;
        Some((r.config.clone(), r.listener.is_some(), r.netns.is_some()))
    }

    /// Whether any replica is `restart: always` (the keeper has work).
    pub fn restartable(&self) -> bool {
        self.replicas.iter().any(|r| r.listener.is_some())
    }

    /// Every replica, in spawn order.
    pub fn replicas(&self) -> &[Replica] {
        &self.replicas
    }

    /// Replicas whose process has ended, with how it ended.
    pub fn exited(&mut self) -> Vec<(ReplicaId, ExitStatus)> {
        let mut out = Vec::new();
        for r in &mut self.replicas {
            if r.exited.is_none()
                && let Ok(Some(status)) = r.child.try_wait()
            {
                r.exited = Some(status);
            }
            if let Some(status) = r.exited {
                out.push((r.id.clone(), status));
            }
        }
        out
    }

    /// Asks every replica to stop (SIGTERM), waits up to `grace` for them to
    /// finish in-flight work, then kills what is left.
    pub fn stop(&mut self, grace: Duration) {
        self.signal_group(Signal::TERM);
        let until = Instant::now() + grace;
        while Instant::now() < until && self.exited().len() < self.replicas.len() {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill_all();
    }

    fn signal_group(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            // A group this fleet created; gone already is fine.
            let _ = rustix::process::kill_process_group(pgid, signal);
        }
    }

    fn kill_all(&mut self) {
        self.signal_group(Signal::KILL);
        for r in &mut self.replicas {
            if r.exited.is_none() {
                let _ = r.child.kill();
                r.exited = r.child.wait().ok();
            }
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.kill_all();
        if let Some(s) = self.spawner.take() {
            s.stop();
        }
    }
}

/// In the forked child, before exec: die with the launcher, enter its
/// network namespace if it has one, and put the inherited listener at
/// [`LISTEN_FD`]. Only system calls: nothing here may allocate or take a
/// lock between fork and exec.
fn child_setup(
    listener_fd: RawFd,
    netns: Option<RawFd>,
    parent: Option<Pid>,
) -> std::io::Result<()> {
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
    // The launcher may have died before that took effect: fail the exec
    // (the child exits) rather than run an orphan.
    if rustix::process::getppid() != parent {
        // (An error of a kind only: nothing allocated after fork.)
        return Err(std::io::ErrorKind::BrokenPipe.into());
    }
    if let Some(ns) = netns {
        // SAFETY: the fleet holds the namespace's descriptor open until exec.
        let ns = unsafe { BorrowedFd::borrow_raw(ns) };
        rustix::thread::move_into_link_name_space(
            ns,
            Some(rustix::thread::LinkNameSpaceType::Network),
        )?;
    }
    // SAFETY: the listener's descriptor is open in the child until exec.
    let listener = unsafe { BorrowedFd::borrow_raw(listener_fd) };
    if listener_fd == LISTEN_FD {
        // dup2 onto itself keeps close-on-exec set: clear it by hand.
        rustix::io::fcntl_setfd(listener, rustix::io::FdFlags::empty())?;
    } else {
        // SAFETY: LISTEN_FD is the child's to replace; held without
        // dropping, so it is never closed here (exec keeps it).
        let mut target = ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(LISTEN_FD) });
        rustix::io::dup2(listener, &mut target)?;
    }
    Ok(())
}

type SpawnJob = (Command, mpsc::Sender<std::io::Result<Child>>);

/// The one long-lived thread that forks every child (see the module docs).
struct Spawner {
    jobs: mpsc::Sender<SpawnJob>,
    thread: JoinHandle<()>,
}

impl Spawner {
    fn start() -> anyhow::Result<Self> {
        let (jobs, rx) = mpsc::channel::<SpawnJob>();
        let thread = std::thread::Builder::new()
            .name("topolab-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .context("starting the spawner thread")?;
        Ok(Spawner { jobs, thread })
    }

    fn spawn(&self, cmd: Command) -> std::io::Result<Child> {
        let (tx, rx) = mpsc::channel();
        let gone = || std::io::Error::other("spawner thread has stopped");
        self.jobs.send((cmd, tx)).map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }

    fn stop(self) {
        drop(self.jobs);
        let _ = self.thread.join();
    }
}
