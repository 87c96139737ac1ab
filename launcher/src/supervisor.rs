//! Spawning and owning a run's replica processes. Every child is put in one
//! process group of its own (so a terminal's Ctrl-C reaches only the launcher,
//! which then stops the run in order) and gets a parent-death signal, so no
//! replica outlives the launcher, even when the launcher is killed with SIGKILL.
//!
//! Linux sends the parent-death signal when the *thread* that forked the child
//! exits, not the process. Async runtimes retire idle threads, so all children
//! are forked from one dedicated spawner thread that lives as long as the fleet.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

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
}

/// A run's replica processes. Dropping it kills and reaps every one of them.
pub struct Fleet {
    program: PathBuf,
    args: Vec<String>,
    log_dir: PathBuf,
    replicas: Vec<Replica>,
    pgid: Option<i32>,
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
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(self.pgid.unwrap_or(0));
        let fd = spec.listener.as_raw_fd();
        let parent = std::process::id() as i32;
        // SAFETY: the closure runs between fork and exec and only makes
        // async-signal-safe system calls (prctl, getppid, dup2, fcntl, _exit).
        unsafe {
            cmd.pre_exec(move || child_setup(fd, parent));
        }
        let spawner = self
            .spawner
            .as_ref()
            .ok_or_else(|| anyhow!("fleet is stopping"))?;
        let mut child = spawner
            .spawn(cmd)
            .with_context(|| format!("starting {}", spec.id))?;
        if self.pgid.is_none() {
            self.pgid = Some(child.id() as i32);
        }
        let addr = spec.listener.local_addr()?;
        // Cannot fail: stdin was set to piped above.
        let mut stdin = child.stdin.take().expect("piped stdin");
        let replica = Replica {
            id: spec.id,
            addr,
            log,
            child,
            exited: None,
        };
        let written = stdin.write_all(&spec.config);
        drop(stdin);
        if let Err(e) = written {
            std::thread::sleep(Duration::from_millis(50));
            let tail = replica.stderr_tail(20);
            let id = replica.id.clone();
            self.replicas.push(replica);
            return Err(e).with_context(|| {
                format!("replica {id} did not take its configuration (it exited at once?); its stderr:\n{tail}")
            });
        }
        self.replicas.push(replica);
        Ok(())
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
        self.signal_group(libc::SIGTERM);
        let until = Instant::now() + grace;
        while Instant::now() < until && self.exited().len() < self.replicas.len() {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill_all();
    }

    fn signal_group(&self, signal: i32) {
        if let Some(pgid) = self.pgid {
            // SAFETY: killpg with a group id this fleet created; no memory involved.
            unsafe {
                libc::killpg(pgid, signal);
            }
        }
    }

    fn kill_all(&mut self) {
        self.signal_group(libc::SIGKILL);
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

/// In the forked child, before exec: die with the launcher, and put the
/// inherited listener at [`LISTEN_FD`].
fn child_setup(listener_fd: i32, parent: i32) -> std::io::Result<()> {
    // SAFETY: plain system calls on integers, async-signal-safe.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // The launcher may have died before prctl took effect.
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        if listener_fd == LISTEN_FD {
            // dup2 onto itself keeps close-on-exec set: clear it by hand.
            if libc::fcntl(LISTEN_FD, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        } else if libc::dup2(listener_fd, LISTEN_FD) < 0 {
            return Err(std::io::Error::last_os_error());
        }
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
