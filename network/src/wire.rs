//! The wire between a run's hosts: a learning Ethernet switch on a thread
//! of its own in the launcher that reads every frame from every host's TAP
//! device and writes it to the port of its destination. A frame between
//! two hosts whose link is shaped is held, paced or dropped there
//! ([`crate::shaping`]) before it is written; every other frame is written
//! at once, on the thread that read it, with no hand-over between threads.
//!
//! Why here and not in the kernel: the kernel this was built on has no
//! netem (nor fq, etf or gact), so a qdisc cannot delay a packet; a
//! userspace wire works on every Linux with `/dev/net/tun`.
//! Everything it holds is bounded, and what it drops is counted.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::Read;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::SeedableRng;
use rand::rngs::StdRng;
use topolab_model::LinkShape;

use crate::shaping::Pace;

/// Frames held for a later departure: beyond this, dropped (counted).
const HELD: usize = 200_000;
/// Larger than any frame of a 1500-byte MTU.
const FRAME: usize = 2048;

/// What the wire did, for the run's last lines.
#[derive(Debug, Default)]
pub struct WireCounts {
    /// Frames written to their port.
    pub frames: AtomicU64,
    /// Dropped by a link's loss or partition, as asked.
    pub dropped_by_links: AtomicU64,
    /// Dropped because the wire held too many, or a port would not take it.
    pub dropped_full: AtomicU64,
}

/// The links in force, by (sender, receiver) address.
type Links = HashMap<(Ipv4Addr, Ipv4Addr), Pace>;

/// The running switch; dropping it stops the thread and closes the ports.
pub struct Wire {
    links: Arc<Mutex<Links>>,
    /// What the wire has done so far.
    pub counts: Arc<WireCounts>,
    /// Closed to tell the thread to stop.
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl Wire {
    /// Starts switching between `ports` (each a TAP device's descriptor,
    /// non-blocking).
    pub fn start(ports: Vec<OwnedFd>) -> std::io::Result<Wire> {
        let links: Arc<Mutex<Links>> = Default::default();
        let counts: Arc<WireCounts> = Default::default();
        let (stop, stopped) = UnixStream::pair()?;
        stopped.set_nonblocking(true)?;
        let mut switch = Switch {
            ports,
            links: links.clone(),
            counts: counts.clone(),
            macs: HashMap::new(),
            held: BinaryHeap::new(),
            seq: 0,
            rng: StdRng::from_os_rng(),
        };
        let thread = std::thread::Builder::new()
            .name("topolab-wire".into())
            .spawn(move || switch.run(stopped))?;
        Ok(Wire {
            links,
            counts,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Puts `shape` on the packets `from` sends to `to`; a perfect shape
    /// lifts the link.
    pub fn set(&self, from: Ipv4Addr, to: Ipv4Addr, shape: LinkShape) {
        let mut links = self.links.lock();
        if shape == LinkShape::default() {
            links.remove(&(from, to));
            return;
        }
        match links.get_mut(&(from, to)) {
            Some(p) => p.reshape(shape),
            None => {
                links.insert((from, to), Pace::new(shape));
            }
        }
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A frame held until it may leave: (departure, order of arrival, port, frame).
type Held = Reverse<(Instant, u64, usize, Vec<u8>)>;

/// The switch's state, owned by its thread.
struct Switch {
    ports: Vec<OwnedFd>,
    links: Arc<Mutex<Links>>,
    counts: Arc<WireCounts>,
    /// Where each MAC address was last seen.
    macs: HashMap<[u8; 6], usize>,
    held: BinaryHeap<Held>,
    seq: u64,
    rng: StdRng,
}

impl Switch {
    /// Waits for frames (or the next held frame's departure), forwards
    /// them, until `stopped` is closed.
    fn run(&mut self, mut stopped: UnixStream) {
        let mut fds: Vec<libc::pollfd> = self
            .ports
            .iter()
            .map(|p| p.as_raw_fd())
            .chain([stopped.as_raw_fd()])
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let mut buf = vec![0u8; FRAME];
        loop {
            let wait = self
                .held
                .peek()
                .map(|Reverse((t, ..))| t.saturating_duration_since(Instant::now()));
            let ts = wait.map(|d| libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            });
            let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
            // SAFETY: `fds` is a live array of `fds.len()` pollfds, `ts_ptr`
            // null or a live timespec, and no signal mask is given.
            let n = unsafe {
                libc::ppoll(
                    fds.as_mut_ptr(),
                    fds.len() as libc::nfds_t,
                    ts_ptr,
                    std::ptr::null(),
                )
            };
            if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return;
            }
            let last = fds.len() - 1;
            if fds[last].revents != 0
                && !matches!(stopped.read(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            {
                return;
            }
            self.release(Instant::now());
            for (i, pfd) in fds.iter_mut().take(last).enumerate() {
                if pfd.revents == 0 {
                    continue;
                }
                if pfd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
                    // A device gone (its namespace deleted): stop asking.
                    pfd.fd = -1;
                    continue;
                }
                loop {
                    match rustix::io::read(&self.ports[i], &mut buf) {
                        Ok(0) => break,
                        Ok(n) => self.arrived(i, &buf[..n]),
                        Err(rustix::io::Errno::INTR) => {}
                        Err(_) => break,
                    }
                }
            }
        }
    }

    /// Writes every held frame whose time has come.
    fn release(&mut self, now: Instant) {
        while let Some(Reverse((t, ..))) = self.held.peek()
            && *t <= now
        {
            if let Some(Reverse((_, _, port, frame))) = self.held.pop() {
                self.write(port, &frame);
            }
        }
    }

    fn write(&self, port: usize, frame: &[u8]) {
        match rustix::io::write(&self.ports[port], frame) {
            Ok(_) => self.counts.frames.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counts.dropped_full.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// One frame from port `from`: learnt, then forwarded, held or dropped.
    fn arrived(&mut self, from: usize, frame: &[u8]) {
        if frame.len() < 14 {
            return;
        }
        let mut src = [0u8; 6];
        src.copy_from_slice(&frame[6..12]);
        self.macs.insert(src, from);
        let dst: [u8; 6] = frame[0..6].try_into().unwrap_or([0xff; 6]);
        let to = match self.macs.get(&dst) {
            Some(p) if dst[0] & 1 == 0 => *p,
            _ => {
                // Broadcast, multicast or not yet learnt: every other port.
                for p in (0..self.ports.len()).filter(|p| *p != from) {
                    self.write(p, frame);
                }
                return;
            }
        };
        let Some(pair) = ipv4_pair(frame) else {
            self.write(to, frame);
            return;
        };
        let now = Instant::now();
        let departure = match self.links.lock().get_mut(&pair) {
            None => Some(now),
            Some(pace) => pace.admit(now, frame.len(), &mut self.rng),
        };
        match departure {
            None => {
                self.counts.dropped_by_links.fetch_add(1, Ordering::Relaxed);
            }
            Some(t) if t <= now + Duration::from_micros(50) => self.write(to, frame),
            Some(_) if self.held.len() >= HELD => {
                self.counts.dropped_full.fetch_add(1, Ordering::Relaxed);
            }
            Some(t) => {
                self.seq += 1;
                self.held.push(Reverse((t, self.seq, to, frame.to_vec())));
            }
        }
    }
}

/// The sender's and receiver's addresses of an IPv4 frame.
fn ipv4_pair(frame: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let src = Ipv4Addr::new(frame[26], frame[27], frame[28], frame[29]);
    let dst = Ipv4Addr::new(frame[30], frame[31], frame[32], frame[33]);
    Some((src, dst))
}
