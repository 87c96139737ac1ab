//! The wire between a run's hosts: a learning Ethernet switch in the
//! launcher that reads every frame from every host's TAP device and writes
//! it to the port of its destination. A frame between two hosts whose link
//! is shaped is held, paced or dropped there ([`crate::shaping`]) before it
//! is written; every other frame is written at once.
//!
//! Why here and not in the kernel: the kernel this was built on has no
//! netem (nor fq, etf or gact), so a qdisc cannot delay a packet; a
//! userspace wire works on every Linux with `/dev/net/tun`.
//! Everything it holds is bounded, and what it drops is counted.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use topolab_model::LinkShape;

use crate::shaping::Pace;

/// Frames waiting for the switch: beyond this, frames are dropped (counted).
const QUEUED: usize = 16_384;
/// Frames held for a later departure: beyond this, dropped (counted).
const HELD: usize = 200_000;
/// Larger than any frame of a 1500-byte MTU.
const FRAME: usize = 2048;
/// How long before a held frame's departure the switch wakes, to wait out
/// the rest precisely.
const EARLY: Duration = Duration::from_millis(2);

/// What the wire did, for the run's last lines.
#[derive(Debug, Default)]
pub struct WireCounts {
    /// Frames written to their port.
    pub frames: AtomicU64,
    /// Dropped by a link's loss or partition, as asked.
    pub dropped_by_links: AtomicU64,
    /// Dropped because a bounded queue of the wire was full.
    pub dropped_full: AtomicU64,
}

/// The links in force, by (sender, receiver) address.
type Links = HashMap<(Ipv4Addr, Ipv4Addr), Pace>;

/// The running switch.
pub struct Wire {
    links: Arc<Mutex<Links>>,
    /// What the wire has done so far.
    pub counts: Arc<WireCounts>,
    tasks: Vec<JoinHandle<()>>,
}

impl Wire {
    /// Starts switching between `ports` (each a TAP device's descriptor).
    pub fn start(ports: Vec<OwnedFd>) -> std::io::Result<Wire> {
        let ports: Vec<Arc<AsyncFd<OwnedFd>>> = ports
            .into_iter()
            .map(|fd| {
                // SAFETY: the wire owns each descriptor and neither replaces
                // nor closes it while registered.
                unsafe { AsyncFd::register(fd) }
                    .map(Arc::new)
                    .map_err(std::io::Error::from)
            })
            .collect::<Result<_, _>>()?;
        let links: Arc<Mutex<Links>> = Default::default();
        let counts: Arc<WireCounts> = Default::default();
        let (tx, rx) = mpsc::channel(QUEUED);
        let mut tasks = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            tasks.push(tokio::spawn(read(
                i,
                port.clone(),
                tx.clone(),
                counts.clone(),
            )));
        }
        drop(tx);
        tasks.push(tokio::spawn(switch(
            ports,
            rx,
            links.clone(),
            counts.clone(),
        )));
        Ok(Wire {
            links,
            counts,
            tasks,
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
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Reads every frame of one port into the switch's queue.
async fn read(
    i: usize,
    port: Arc<AsyncFd<OwnedFd>>,
    tx: mpsc::Sender<(usize, Vec<u8>)>,
    counts: Arc<WireCounts>,
) {
    let mut buf = vec![0u8; FRAME];
    loop {
        let Ok(mut ready) = port.readable().await else {
            return;
        };
        loop {
            match rustix::io::read(port.get_ref(), &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.try_send((i, buf[..n].to_vec())).is_err() {
                        if tx.is_closed() {
                            return;
                        }
                        counts.dropped_full.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(rustix::io::Errno::AGAIN) => {
                    ready.clear_ready();
                    break;
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
    }
}

/// A frame held until it may leave: (departure, order of arrival, port, frame).
type Held = Reverse<(Instant, u64, usize, Vec<u8>)>;

/// Learns where each MAC address lives, forwards, and holds what a link delays.
async fn switch(
    ports: Vec<Arc<AsyncFd<OwnedFd>>>,
    mut rx: mpsc::Receiver<(usize, Vec<u8>)>,
    links: Arc<Mutex<Links>>,
    counts: Arc<WireCounts>,
) {
    let mut macs: HashMap<[u8; 6], usize> = HashMap::new();
    let mut held: BinaryHeap<Held> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut rng = StdRng::from_os_rng();
    let write = |port: usize, frame: &[u8]| {
        match rustix::io::write(ports[port].get_ref(), frame) {
            Ok(_) => counts.frames.fetch_add(1, Ordering::Relaxed),
            Err(_) => counts.dropped_full.fetch_add(1, Ordering::Relaxed),
        };
    };
    loop {
        let due = held.peek().map(|Reverse((t, ..))| *t);
        let arrived = tokio::select! {
            f = rx.recv() => match f {
                Some(f) => Some(f),
                None => return,
            },
            () = sleep_until(due), if due.is_some() => None,
        };
        if arrived.is_none()
            && let Some(t) = due
        {
            // The timer wakes up to a millisecond early or late: wait out the
            // rest here, so a delay is what the link asks for.
            let left = t.saturating_duration_since(Instant::now());
            if left > Duration::ZERO && left <= EARLY {
                std::thread::sleep(left);
            }
        }
        let now = Instant::now();
        while let Some(Reverse((t, ..))) = held.peek()
            && *t <= now
        {
            if let Some(Reverse((_, _, port, frame))) = held.pop() {
                write(port, &frame);
            }
        }
        let Some((from, frame)) = arrived else {
            continue;
        };
        if frame.len() < 14 {
            continue;
        }
        let mut src = [0u8; 6];
        src.copy_from_slice(&frame[6..12]);
        macs.insert(src, from);
        let dst: [u8; 6] = frame[0..6].try_into().unwrap_or([0xff; 6]);
        let to = match macs.get(&dst) {
            Some(p) if dst[0] & 1 == 0 => *p,
            _ => {
                // Broadcast, multicast or not yet learnt: every other port.
                for p in (0..ports.len()).filter(|p| *p != from) {
                    write(p, &frame);
                }
                continue;
            }
        };
        let Some(pair) = ipv4_pair(&frame) else {
            write(to, &frame);
            continue;
        };
        let departure = {
            let mut links = links.lock();
            match links.get_mut(&pair) {
                None => Some(now),
                Some(pace) => pace.admit(now, frame.len(), &mut rng),
            }
        };
        match departure {
            None => {
                counts.dropped_by_links.fetch_add(1, Ordering::Relaxed);
            }
            Some(t) if t <= now => write(to, &frame),
            Some(_) if held.len() >= HELD => {
                counts.dropped_full.fetch_add(1, Ordering::Relaxed);
            }
            Some(t) => {
                seq += 1;
                held.push(Reverse((t, seq, to, frame)));
            }
        }
    }
}

/// Sleeps until [`EARLY`] before `t` (the timer's resolution is a
/// millisecond, and it rounds up).
async fn sleep_until(t: Option<Instant>) {
    if let Some(t) = t {
        let wake = t.checked_sub(EARLY).unwrap_or(t);
        tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
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
