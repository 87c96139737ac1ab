//! `settings.warmup`: load sent before measuring starts. Every generator runs
//! its first stage's rate (or clients) for the warmup, unsampled and into a
//! recorder that is thrown away; only how many requests it sent is kept, for
//! the run folder to say what was discarded.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;
use topolab_model::{ClientStage, Generator, Pattern, RateStage, Topology};

use super::mix::Mix;
use super::{Recorder, StopSignals, thread};

/// Runs every generator for `topology.settings.warmup` and waits until its
/// requests have drained; returns how many requests the warmup sent.
/// `tracer` (the run's, or `None` when it traces nothing) only carries the
/// unsampled decision: no warmup request is traced.
pub async fn run(
    topology: &Topology,
    peers: &BTreeMap<String, Vec<SocketAddr>>,
    seed: u64,
    signals: StopSignals,
    tracer: Option<topolab_services::trace::Exporter>,
) -> anyhow::Result<u64> {
    let warmup = topology.settings.warmup;
    let begin = Instant::now();
    let generators: Vec<Generator> = topology.load.iter().map(|g| warm(g, warmup)).collect();
    for generator in &generators {
        Mix::check(generator, peers)?;
    }
    let mut tasks = JoinSet::new();
    for (i, generator) in generators.into_iter().enumerate() {
        let done = thread::spawn(thread::Launch {
            generator,
            peers: peers.clone(),
            tracer: tracer.clone(),
            rate: 0.0,
            begin,
            // A stream of its own, apart from the measured load's.
            seed: !seed ^ (0x2545_f491_4f6c_dd1du64.wrapping_mul(i as u64 + 1)),
            signals: signals.clone(),
            recorder: Arc::new(Mutex::new(Recorder::default())),
            knob: None,
            book: None,
        })?;
        tasks.spawn(done);
    }
    let mut sent = 0;
    while let Some(done) = tasks.join_next().await {
        let recorder = done
            .context("a warmup generator task failed")?
            .context("a warmup generator's thread panicked")??;
        sent += recorder.sent;
    }
    Ok(sent)
}

/// The generator as it runs during the warmup: from the start, for
/// `warmup`, at its first stage's rate (or clients), held flat.
pub fn warm(g: &Generator, warmup: Duration) -> Generator {
    let mut g = g.clone();
    g.start = Duration::ZERO;
    g.duration = warmup;
    match &mut g.pattern {
        Pattern::Open { stages, .. } => {
            let from = stages.first().map_or(0.0, |s| s.from);
            *stages = vec![RateStage {
                from,
                to: from,
                duration: warmup,
            }];
        }
        Pattern::Closed { stages, .. } => {
            let clients = stages.first().map_or(0, |s| s.clients);
            *stages = vec![ClientStage {
                clients,
                duration: warmup,
            }];
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use topolab_model::load_str;

    #[test]
    fn the_warmup_holds_the_first_stage_flat_from_the_start() {
        let yaml = "name: t\nservices:\n  a:\n    endpoints: { X: }\nload:\n  g:\n    target: a/X\n    start: 2s\n    stages:\n      - { rate: 10/s -> 50/s, for: 5s }\n      - { rate: 80/s, for: 5s }\n";
        let t = load_str("t.yaml", yaml, &[]).unwrap().topology;
        let g = warm(&t.load[0], Duration::from_secs(3));
        assert_eq!(
            (g.start, g.duration),
            (Duration::ZERO, Duration::from_secs(3))
        );
        let Pattern::Open { stages, .. } = &g.pattern else {
            panic!("open loop expected")
        };
        assert_eq!(
            stages,
            &[RateStage {
                from: 10.0,
                to: 10.0,
                duration: Duration::from_secs(3)
            }]
        );
    }
}
