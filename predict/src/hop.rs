//! The cost of one gRPC hop on this machine, which real processes pay on
//! every call and the simulator charges so its figures compare fairly with a
//! run's. Set by the user, or measured by a short probe — a real run of a
//! two-service chain, at a low rate — and cached under
//! `$XDG_CACHE_HOME/topolab/` (or `~/.cache/topolab/`). The same probe
//! measures what the machine adds to a timed `work` step (its callee works
//! 1 ms and reports how long that took): on a busy machine a process waits
//! for a core before it resumes, and the simulator charges that too.
//! What a replica's thread spends on a burst of messages (`message.rs`) is
//! cached beside them, probed only for a topology with followers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use topolab_collector::TraceOptions;
use topolab_launcher::run::{RunOptions, run};
use topolab_live::LiveMode;

/// The cost charged per hop, and where it came from (said in the summary).
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// Round trip: half on the way to the callee, half on the way back.
    pub ns: u64,
    pub source: String,
    /// Added to every `work` step (0 when the user set the hop cost).
    pub work_ns: u64,
    /// What one message costs a replica's thread in a burst of them
    /// (`message.rs`; 0 when the user set the hop cost).
    pub message_ns: u64,
    /// How much later than a work step a replica takes up a new version
    /// (`message.rs`; 0 when the user set the hop cost).
    pub version_late_ns: u64,
    /// What one push down a stream costs it (`message.rs`).
    pub push_ns: u64,
}

/// The probe's topology: load → front → back, nothing but hops and one
/// 1 ms work step. A low rate: the probe must measure the machine as a run
/// finds it, not the contention of its own load (at 200/s a debug build
/// kept both cores busy and measured hops twice as dear as a run paid),
/// after a warmup (fresh processes' first calls open connections and
/// fault pages in, which a run's steady state does not pay).
const PROBE: &str = "name: hop-probe
description: topolab predict's probe of what one gRPC hop costs on this machine.
services:
  front:
    workers: 8
    endpoints:
      Ping:
        steps:
          - call: back/Pong
  back:
    workers: 8
    endpoints:
      Pong:
        steps:
          - work: 1ms
load:
  probe:
    target: front/Ping
    rate: 50/s
    duration: 4s
settings:
  warmup: 1s
";

#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    hop_cost_us: f64,
    /// Measured work time of the probe's 1 ms step, less 1 ms (absent in
    /// caches written before it was measured: then the probe runs again).
    #[serde(default)]
    work_overhead_us: Option<f64>,
    /// The message probe's figures (absent until a topology with
    /// followers was predicted, or in caches written before it existed).
    #[serde(default)]
    message: Option<CachedMessage>,
    /// How many requests the probe measured.
    requests: u64,
}

/// What the message probe found (`message.rs`).
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
struct CachedMessage {
    message_cost_us: f64,
    version_late_us: f64,
    push_cost_us: f64,
    /// The measured median staleness of its 5 and 50 long pollers and its
    /// 50 subscribers, ms: what the three figures were fitted to.
    probe_ms: [f64; 3],
}

/// The cache file.
pub fn cache_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("topolab").join("hop-cost.json"))
}

/// A cost the user set with `--hop-cost`.
pub fn set(d: Duration) -> Hop {
    Hop {
        ns: d.as_nanos() as u64,
        source: "--hop-cost".into(),
        work_ns: 0,
        message_ns: 0,
        version_late_ns: 0,
        push_ns: 0,
    }
}

/// The cached probe's figures, or fresh probes (then cached). `fresh`
/// ignores the cache. `followers`: the topology follows `updates`, so the
/// message probe's figures are needed too (else they are left as cached,
/// or 0: a topology without followers never pays them).
pub async fn probed(
    replica_command: (PathBuf, Vec<String>),
    fresh: bool,
    followers: bool,
) -> anyhow::Result<Hop> {
    let file = cache_file();
    let read_back = file.as_deref().and_then(read);
    let kept = read_back.as_ref().and_then(|c| c.message);
    let cached = read_back.filter(|_| !fresh);
    if let Some(c) = &cached
        && let Some(work_us) = c.work_overhead_us
        && (!followers || c.message.is_some())
    {
        let m = c.message.unwrap_or_default();
        return Ok(Hop {
            ns: (c.hop_cost_us * 1e3) as u64,
            // Cannot fail: `cached` was read from it.
            source: format!("cache {}", file.as_deref().expect("a cache").display()),
            work_ns: (work_us * 1e3) as u64,
            message_ns: (m.message_cost_us * 1e3) as u64,
            version_late_ns: (m.version_late_us * 1e3) as u64,
            push_ns: (m.push_cost_us * 1e3) as u64,
        });
    }
    let (us, work_us, requests) = probe(replica_command.clone()).await?;
    let mut hop = Hop {
        ns: (us * 1e3) as u64,
        source: "probe".into(),
        work_ns: (work_us * 1e3) as u64,
        message_ns: 0,
        version_late_ns: 0,
        push_ns: 0,
    };
    let message = if followers {
        let m = crate::message::probe(replica_command, &hop).await?;
        hop.message_ns = m.message_ns;
        hop.version_late_ns = m.version_late_ns;
        hop.push_ns = m.push_ns;
        Some(CachedMessage {
            message_cost_us: m.message_ns as f64 / 1e3,
            version_late_us: m.version_late_ns as f64 / 1e3,
            push_cost_us: m.push_ns as f64 / 1e3,
            probe_ms: [m.few_ms, m.many_ms, m.streams_ms],
        })
    } else {
        // Renewed only for a topology that needs them.
        kept
    };
    if let Some(f) = &file {
        // A cache that cannot be written only costs the next predict a probe.
        let _ = write(
            f,
            &Cached {
                hop_cost_us: us,
                work_overhead_us: Some(work_us),
                message,
                requests,
            },
        );
    }
    Ok(hop)
}

/// Runs the probe: (µs per hop, µs added to a work step, requests
/// measured). The two hops are the generator's median latency less
/// `back`'s; each costs half. `back`'s median work time less its 1 ms is
/// what the machine adds to a work step.
async fn probe(replica_command: (PathBuf, Vec<String>)) -> anyhow::Result<(f64, f64, u64)> {
    let loaded = topolab_model::load_str("hop-probe.yaml", PROBE, &[])
        .map_err(|e| anyhow::anyhow!("the hop probe's topology is invalid: {e}"))?;
    let dir = std::env::temp_dir().join(format!("topolab-hop-probe-{}", std::process::id()));
    let opts = RunOptions {
        out: Some(dir.clone()),
        force: true,
        seed: 1,
        replica_command,
        verbose: false,
        trace: TraceOptions::default(),
        live: LiveMode::Off,
        steering: None,
    };
    let result = run(&loaded, opts).await;
    // The probe's run folder is of no use once its figures are read.
    let _ = std::fs::remove_dir_all(&dir);
    let result = result.context("running the hop probe")?;
    let load = result
        .summary
        .load
        .get("probe")
        .context("the hop probe measured nothing")?;
    let pong = result
        .summary
        .services
        .get("back")
        .and_then(|s| s.endpoints.get("Pong"));
    // Medians, not means: a stall of the whole machine (another process's
    // build on a shared box) puts a few requests hundreds of ms late, which
    // moved a 4 s probe's mean hop cost from 2.5 to 25 ms; the median is
    // the hop a request typically pays, and the tails are the machine's.
    let back = pong.map_or(0.0, |e| e.latency_ms.p50);
    let work_us = pong.map_or(0.0, |e| (e.work_ms.p50 - 1.0).max(0.0) * 1e3);
    if load.ok == 0 {
        anyhow::bail!("the hop probe's requests all failed");
    }
    let us = ((load.latency_ms.p50 - back) * 1e3 / 2.0).max(0.0);
    Ok((us, work_us, load.ok))
}

fn read(f: &Path) -> Option<Cached> {
    serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok()
}

fn write(f: &Path, c: &Cached) -> anyhow::Result<()> {
    if let Some(dir) = f.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(f, serde_json::to_vec_pretty(c)?)?;
    Ok(())
}
