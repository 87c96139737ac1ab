//! How many replica processes this machine can hold, probed at run time from
//! what each replica costs: memory (`MemAvailable`, a cgroup's memory limit),
//! threads (`pid_max`, `threads-max`, `ulimit -u`, a cgroup's `pids.max`),
//! the launcher's file descriptors (it holds a socket to every replica) and
//! loopback ports. The smallest of them is the limit, and the error that
//! refuses a bigger topology names it with its numbers.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Memory one replica takes for itself, budgeted: an idle replica's own
/// (private) pages measured 2.3 MiB in a debug build (`make bench scale`
/// prints the proportional figure); its executable's pages are shared by
/// every replica. The budget leaves room for queues, connections and
/// histograms under load.
pub const REPLICA_RSS: u64 = 8 << 20;
/// Threads (kernel tasks, which `pid_max` and `ulimit -u` count) of one
/// replica: the main thread, which runs its runtime (1 when idle and under
/// load, measured), and one to spare for the runtime's blocking pool.
pub const REPLICA_THREADS: u64 = 2;
/// File descriptors the launcher holds per replica while a run goes on: the
/// telemetry channel, the replica's span export to the collector, a load
/// generator's connection, and one for health checks and the last figures.
pub const LAUNCHER_FDS_PER_REPLICA: u64 = 4;
/// Loopback ports per replica: its own listener, its metrics listener, and
/// the ephemeral ends of the connections above.
pub const PORTS_PER_REPLICA: u64 = 4;
/// Share of the free memory replicas may take; the rest is the launcher's,
/// the page cache's and everyone else's.
const MEMORY_SHARE: f64 = 0.8;
/// File descriptors kept for the launcher itself (run folder, terminal, logs).
const FD_RESERVE: u64 = 256;

/// One resource's limit on replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// What it is, as the error names it (`memory`, `threads`, ...).
    pub resource: &'static str,
    /// Replicas it allows.
    pub replicas: u64,
    /// How that number came about, e.g. `21.3 GiB free x 0.8 / 12 MiB each`.
    pub why: String,
}

/// This machine's limits on replicas, the binding one first.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub bounds: Vec<Bound>,
}

impl Capacity {
    /// Probes this machine now. Raises the launcher's soft limit on open
    /// files to its hard limit first, since the launcher and every replica
    /// (which inherits it) may need thousands of sockets.
    pub fn probe() -> Capacity {
        let nofile = raise_fd_limit();
        let mut bounds = Vec::new();
        if let Some(free) = free_memory() {
            let usable = (free as f64 * MEMORY_SHARE) as u64;
            bounds.push(Bound {
                resource: "memory",
                replicas: usable / REPLICA_RSS,
                why: format!(
                    "{} free x {MEMORY_SHARE} / {} per replica",
                    bytes(free),
                    bytes(REPLICA_RSS)
                ),
            });
        }
        if let Some((free, source)) = free_threads() {
            bounds.push(Bound {
                resource: "threads",
                replicas: free / REPLICA_THREADS,
                why: format!("{free} free ({source}) / {REPLICA_THREADS} per replica"),
            });
        }
        if let Some(limit) = nofile {
            let open = open_fds().unwrap_or(0);
            let free = limit.saturating_sub(open + FD_RESERVE);
            bounds.push(Bound {
                resource: "file descriptors",
                replicas: free / LAUNCHER_FDS_PER_REPLICA,
                why: format!(
                    "ulimit -n {limit}, {open} open, {FD_RESERVE} kept / {LAUNCHER_FDS_PER_REPLICA} per replica in the launcher"
                ),
            });
        }
        if let Some((lo, hi)) = port_range() {
            let ports = hi.saturating_sub(lo) + 1;
            bounds.push(Bound {
                resource: "ports",
                replicas: ports / PORTS_PER_REPLICA,
                why: format!(
                    "{ports} ephemeral ports ({lo}-{hi}) / {PORTS_PER_REPLICA} per replica"
                ),
            });
        }
        bounds.sort_by_key(|b| b.replicas);
        Capacity { bounds }
    }

    /// The most replicas all resources allow (`u32::MAX` when none could be
    /// read, which only happens off Linux).
    pub fn processes(&self) -> u32 {
        self.bounds
            .first()
            .map_or(u32::MAX, |b| b.replicas.min(u64::from(u32::MAX)) as u32)
    }

    /// The validation limits of a run: this machine's, or `forced`
    /// (`--max-processes`), which the user takes at their own risk.
    pub fn limits(&self, forced: Option<u32>) -> topolab_model::Limits {
        match forced {
            Some(n) => topolab_model::Limits::machine(
                n,
                format!(
                    "lower `replicas`, or raise `--max-processes {n}` (this machine's own limit is {})",
                    self.processes()
                ),
            ),
            None => topolab_model::Limits::machine(self.processes(), self.help()),
        }
    }

    /// What sets the limit, with every resource's numbers, and how to mend.
    pub fn help(&self) -> String {
        let mut s = String::from("every replica is a real process on this machine; ");
        match self.bounds.first() {
            Some(b) => {
                let _ = write!(
                    s,
                    "{} sets the limit: {} = {}",
                    b.resource, b.why, b.replicas
                );
                let rest: Vec<String> = self.bounds[1..]
                    .iter()
                    .map(|b| format!("{}: {} = {}", b.resource, b.why, b.replicas))
                    .collect();
                if !rest.is_empty() {
                    let _ = write!(s, " (then {})", rest.join("; "));
                }
            }
            None => s.push_str("no resource could be read"),
        }
        s.push_str(
            ". Lower `replicas`, or raise the limit at your own risk with `--max-processes N`",
        );
        s
    }
}

/// Raises this process's soft limit on open files to the hard one and
/// returns the limit now in force (None off Linux or if it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    let lim = getrlimit(Resource::Nofile);
    let mut now = lim.current;
    // `None` is unlimited: a soft limit below the hard one is raised.
    if now != lim.maximum {
        let raised = Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            now = lim.maximum;
        }
    }
    Some(now.unwrap_or(u64::MAX))
}

/// Bytes free for new processes: `MemAvailable`, less if a cgroup's limit
/// leaves less.
fn free_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?
        * 1024;
    let cgroup = cgroup_file("memory", "memory.max", "memory.limit_in_bytes")
        .zip(cgroup_file(
            "memory",
            "memory.current",
            "memory.usage_in_bytes",
        ))
        .map(|(max, used)| max.saturating_sub(used));
    Some(cgroup.map_or(available, |c| c.min(available)))
}

/// Threads that may still be created, and which limit says so.
fn free_threads() -> Option<(u64, &'static str)> {
    // The 4th field of /proc/loadavg is running/total kernel tasks.
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    let total: u64 = loadavg
        .split_whitespace()
        .nth(3)?
        .split('/')
        .nth(1)?
        .parse()
        .ok()?;
    let mut free = vec![];
    if let Some(max) = read_u64("/proc/sys/kernel/pid_max") {
        free.push((max.saturating_sub(total), "pid_max"));
    }
    if let Some(max) = read_u64("/proc/sys/kernel/threads-max") {
        free.push((max.saturating_sub(total), "threads-max"));
    }
    if let Some(nproc) = getrlimit(Resource::Nproc).current {
        // The limit counts this user's threads; the system's total bounds them.
        free.push((nproc.saturating_sub(total), "ulimit -u"));
    }
    if let Some((max, used)) = cgroup_file("pids", "pids.max", "pids.max").zip(cgroup_file(
        "pids",
        "pids.current",
        "pids.current",
    )) {
        free.push((max.saturating_sub(used), "cgroup pids.max"));
    }
    free.into_iter().min()
}

/// File descriptors this process has open now.
fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

/// The ephemeral port range that both listeners bound to port 0 and outgoing
/// connections draw from.
fn port_range() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some((it.next()??, it.next()??))
}

/// A cgroup's file of this process: v2 (`/sys/fs/cgroup/<path>/<v2>`) or v1
/// (`/sys/fs/cgroup/<controller>/<path>/<v1>`); `max` and unlimited values
/// are None.
fn cgroup_file(controller: &str, v2: &str, v1: &str) -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let root = Path::new("/sys/fs/cgroup");
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = path.trim_start_matches('/');
        let file: PathBuf = if names.is_empty() {
            root.join(rel).join(v2)
        } else if names.split(',').any(|n| n == controller) {
            root.join(controller).join(rel).join(v1)
        } else {
            continue;
        };
        if let Some(v) = read_u64(&file) {
            // v1 writes "no limit" as a page-rounded i64::MAX.
            return (v < 1 << 60).then_some(v);
        }
    }
    None
}

fn read_u64(path: impl AsRef<Path>) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `12 MiB`, `21.3 GiB`.
fn bytes(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{} MiB", b >> 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_every_bound_and_the_smallest_is_first() {
        let c = Capacity::probe();
        let names: Vec<_> = c.bounds.iter().map(|b| b.resource).collect();
        for r in ["memory", "threads", "file descriptors", "ports"] {
            assert!(names.contains(&r), "{r} missing from {names:?}");
        }
        assert!(c.bounds.windows(2).all(|w| w[0].replicas <= w[1].replicas));
        assert_eq!(u64::from(c.processes()), c.bounds[0].replicas);
        let help = c.help();
        assert!(help.contains(c.bounds[0].resource), "{help}");
        assert!(help.contains("--max-processes"), "{help}");
    }

    #[test]
    fn a_forced_limit_wins_and_says_whose_risk_it_is() {
        let c = Capacity {
            bounds: vec![Bound {
                resource: "memory",
                replicas: 10,
                why: "x".into(),
            }],
        };
        let l = c.limits(Some(5000));
        assert_eq!(l.processes, 5000);
        assert!(l.processes_help.contains("own limit is 10"));
        assert_eq!(c.limits(None).processes, 10);
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        let now = raise_fd_limit().expect("readable on Linux");
        let hard = getrlimit(Resource::Nofile).maximum.unwrap_or(u64::MAX);
        assert_eq!(now, hard);
    }
}
