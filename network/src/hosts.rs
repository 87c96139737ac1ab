//! Making and removing a run's network: a namespace per replica, each with
//! a TAP device (`eth0`, its own address) whose frames the launcher's
//! [`Wire`] switches, and one more TAP device for the launcher itself
//! (`10.X.0.1`). The devices vanish with the launcher's descriptors; the
//! namespaces, named with the run's prefix, are deleted at the end, or by
//! the guard ([`crate::guard`]) when the launcher was killed.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Instant;

use rustix::thread::LinkNameSpaceType;
use topolab_model::{LinkShape, Topology};

use crate::guard::{self, Guard};
use crate::plan::Plan;
use crate::wire::Wire;
use crate::{NetworkError, tap};

/// Where the subnet lock lives while a run picks its subnet.
const LOCK: &str = "/run/lock/topolab-network.lock";
/// Subnets topolab takes: 10.X.0.0/16 for X in this range.
const SUBNETS: std::ops::RangeInclusive<u8> = 200..=254;

/// A run's network, made; dropping it removes it.
pub struct Hosts {
    plan: Plan,
    prefix: String,
    /// Each host's namespace, open, in `plan.hosts` order.
    namespaces: Vec<File>,
    wire: Option<Wire>,
    guard: Option<Guard>,
    /// How long making it took, for the run's progress line.
    pub made_in: std::time::Duration,
}

/// What the wire did over a run, for its last lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireTotals {
    pub frames: u64,
    pub dropped_by_links: u64,
    pub dropped_full: u64,
}

impl Hosts {
    /// Makes the network for `topology`: namespaces, TAP devices,
    /// addresses, the wire, and the standing links' shapes. Runs inside a
    /// tokio runtime (the wire's tasks).
    pub fn make(topology: &Topology) -> Result<Hosts, NetworkError> {
        let started = Instant::now();
        let prefix = format!("tl{:x}", std::process::id());
        // Leftovers of an earlier process with this pid are not anybody's.
        let _ = sh(&guard::remove_all(&prefix));
        let guard = Guard::start(&prefix)?;
        let mut hosts = Hosts {
            plan: Plan::new(topology, 0),
            prefix,
            namespaces: Vec::new(),
            wire: None,
            guard: Some(guard),
            made_in: Default::default(),
        };
        hosts.build(topology)?;
        hosts.made_in = started.elapsed();
        Ok(hosts)
    }

    fn build(&mut self, topology: &Topology) -> Result<(), NetworkError> {
        let p = self.prefix.clone();
        let names: Vec<String> = Plan::new(topology, 0)
            .hosts
            .iter()
            .map(|h| format!("{p}-{}-{}", h.service, h.index))
            .collect();
        let mut ports = Vec::new();
        {
            // Held while the subnet is chosen and taken, so two runs
            // starting at once cannot take the same one.
            let lock = File::create(LOCK).map_err(|e| match e.kind() {
                std::io::ErrorKind::PermissionDenied => NetworkError::NotPermitted,
                _ => NetworkError::io(format!("creating {LOCK}"))(e),
            })?;
            rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
                .map_err(|e| NetworkError::io("locking the subnets")(e.into()))?;
            let subnet = free_subnet()?;
            self.plan = Plan::new(topology, subnet);
            let gateway = format!("{p}g");
            ports.push(tap::open(&gateway).map_err(tap_error)?);
            let mut host = String::new();
            let _ = writeln!(host, "addr add {}/16 dev {gateway}", self.plan.gateway());
            let _ = writeln!(host, "link set {gateway} up");
            for n in &names {
                let _ = writeln!(host, "netns add {n}");
            }
            ip(None, &host)?;
        }
        for n in &names {
            let path = format!("/run/netns/{n}");
            let f = File::open(&path).map_err(NetworkError::io(format!("opening {path}")))?;
            self.namespaces.push(f);
        }
        ports.extend(self.taps_inside()?);
        // Each namespace's own batch, all at once: they touch nothing shared.
        let batches: Vec<(Option<&str>, String)> = names
            .iter()
            .zip(&self.plan.hosts)
            .map(|(n, h)| {
                let own = format!(
                    "addr add {}/16 dev eth0\nlink set eth0 up\nlink set lo up\n",
                    h.addr
                );
                (Some(n.as_str()), own)
            })
            .collect();
        ip_all(&batches)?;
        let wire = Wire::start(ports).map_err(NetworkError::io("starting the wire"))?;
        let none = BTreeSet::new();
        for (a, receivers) in self.plan.shaped() {
            for b in receivers {
                let shape = self.plan.shape_of(&none, (a, b));
                wire.set(self.plan.hosts[a].addr, self.plan.hosts[b].addr, shape);
            }
        }
        self.wire = Some(wire);
        Ok(())
    }

    /// Each namespace's `eth0`, made inside it by a thread of its own that
    /// enters one namespace after the other (moving a device between
    /// namespaces costs ~17 ms here; making it in place, nothing).
    fn taps_inside(&self) -> Result<Vec<std::os::fd::OwnedFd>, NetworkError> {
        let namespaces = self
            .namespaces
            .iter()
            .map(File::try_clone)
            .collect::<Result<Vec<_>, _>>()
            .map_err(NetworkError::io("duplicating a namespace"))?;
        std::thread::spawn(move || {
            namespaces
                .iter()
                .map(|ns| {
                    rustix::thread::move_into_link_name_space(
                        ns.as_fd(),
                        Some(LinkNameSpaceType::Network),
                    )?;
                    tap::open("eth0")
                })
                .collect::<std::io::Result<Vec<_>>>()
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the TAP thread panicked")))
        .map_err(tap_error)
    }

    /// Every replica's address and the links: what the run was made from.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The namespace of replica `index` of `service`, for its process.
    pub fn namespace(&self, service: &str, index: u32) -> Option<BorrowedFd<'_>> {
        let k = self.plan.host(service, index)?;
        self.namespaces.get(k).map(AsFd::as_fd)
    }

    /// A listening socket on replica `index` of `service`'s own address, a
    /// free port, made inside its namespace (a socket belongs to the
    /// namespace it was made in, wherever its process runs).
    pub fn bind(&self, service: &str, index: u32) -> Result<TcpListener, NetworkError> {
        let what = format!("binding a port for {service}#{index}");
        let Some(k) = self.plan.host(service, index) else {
            return Err(NetworkError::io(what)(std::io::ErrorKind::NotFound.into()));
        };
        let addr = self.plan.hosts[k].addr;
        let ns = self.namespaces[k]
            .try_clone()
            .map_err(NetworkError::io("duplicating a namespace"))?;
        // A thread of its own enters the namespace and ends there, so no
        // thread of the launcher ever changes namespace.
        std::thread::spawn(move || -> std::io::Result<TcpListener> {
            rustix::thread::move_into_link_name_space(
                ns.as_fd(),
                Some(LinkNameSpaceType::Network),
            )?;
            TcpListener::bind((addr, 0))
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the binding thread panicked")))
        .map_err(NetworkError::io(what))
    }

    /// The launcher's address on the run's network.
    pub fn gateway(&self) -> Ipv4Addr {
        self.plan.gateway()
    }

    /// Puts each (sender, receiver, shape) in force now.
    pub fn reshape(&self, changes: &[(usize, usize, LinkShape)]) {
        if let Some(wire) = &self.wire {
            for (a, b, shape) in changes {
                wire.set(
                    self.plan.hosts[*a].addr,
                    self.plan.hosts[*b].addr,
                    shape.clone(),
                );
            }
        }
    }

    /// What the wire has done so far.
    pub fn totals(&self) -> WireTotals {
        let Some(w) = &self.wire else {
            return WireTotals::default();
        };
        WireTotals {
            frames: w.counts.frames.load(Ordering::Relaxed),
            dropped_by_links: w.counts.dropped_by_links.load(Ordering::Relaxed),
            dropped_full: w.counts.dropped_full.load(Ordering::Relaxed),
        }
    }

    /// Removes everything the run made, then lets the guard go.
    pub fn remove(mut self) -> Result<(), NetworkError> {
        self.remove_now()
    }

    fn remove_now(&mut self) -> Result<(), NetworkError> {
        // Closing the devices' descriptors removes the devices.
        self.wire = None;
        self.namespaces.clear();
        let done = sh(&guard::remove_all(&self.prefix));
        if let Some(g) = self.guard.take() {
            match done {
                Ok(()) => g.dismiss(),
                // The guard tries again once the launcher's pipe closes.
                Err(_) => drop(g),
            }
        }
        done
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if self.guard.is_some()
            && let Err(e) = self.remove_now()
        {
            tracing::warn!("removing the run's network: {e}");
        }
    }
}

fn tap_error(e: std::io::Error) -> NetworkError {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => NetworkError::NotPermitted,
        _ => NetworkError::io("making a TAP device on /dev/net/tun")(e),
    }
}

/// The lowest 10.X.0.0/16 no address of this machine is in.
fn free_subnet() -> Result<u8, NetworkError> {
    let out = run(Command::new("ip").args(["-4", "-o", "addr", "show"]), "")?;
    let taken: BTreeSet<u8> = out
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("10."))
        .filter_map(|rest| rest.split('.').next()?.parse().ok())
        .collect();
    SUBNETS
        .into_iter()
        .find(|x| !taken.contains(x))
        .ok_or(NetworkError::NoSubnet)
}

/// `ip [-n NS] -batch -` with `batch` on stdin.
fn ip(ns: Option<&str>, batch: &str) -> Result<(), NetworkError> {
    ip_all(&[(ns, batch.to_string())])
}

/// [`ip`] for every (namespace, batch), the processes running side by side.
fn ip_all(batches: &[(Option<&str>, String)]) -> Result<(), NetworkError> {
    // Side by side, but not a hundred processes at once.
    for chunk in batches.chunks(16) {
        let started: Vec<_> = chunk
            .iter()
            .map(|(ns, batch)| {
                let mut cmd = Command::new("ip");
                if let Some(ns) = ns {
                    cmd.args(["-n", ns]);
                }
                cmd.args(["-batch", "-"]);
                start(&mut cmd, batch)
            })
            .collect();
        for s in started {
            finish(s?)?;
        }
    }
    Ok(())
}

fn sh(script: &str) -> Result<(), NetworkError> {
    run(Command::new("sh").args(["-c", script]), "").map(drop)
}

/// Runs `cmd` with `input` on stdin; its stdout, or why it failed.
fn run(cmd: &mut Command, input: &str) -> Result<String, NetworkError> {
    finish(start(cmd, input)?)
}

/// A command started, with what to say of it.
struct Started {
    child: std::process::Child,
    shown: String,
    input: String,
}

/// Starts `cmd` with `input` written to its stdin.
fn start(cmd: &mut Command, input: &str) -> Result<Started, NetworkError> {
    let shown = format!("{cmd:?}").replace('"', "");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => NetworkError::NoIproute2,
            _ => NetworkError::io(format!("starting {shown}"))(e),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    Ok(Started {
        child,
        shown,
        input: input.to_string(),
    })
}

/// Waits for a started command: its stdout, or why it failed.
fn finish(started: Started) -> Result<String, NetworkError> {
    let Started {
        child,
        shown,
        input,
    } = started;
    let out = child
        .wait_with_output()
        .map_err(NetworkError::io(format!("running {shown}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if stderr.contains("Operation not permitted") || stderr.contains("Permission denied") {
        return Err(NetworkError::NotPermitted);
    }
    if !out.status.success() {
        let first_lines = input.lines().take(3).collect::<Vec<_>>().join("; ");
        return Err(NetworkError::Command {
            command: format!("{shown} ({first_lines}...)"),
            stderr,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
