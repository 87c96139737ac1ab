//! Open-loop arrivals: requests are scheduled at their due times (see
//! [`super::shape`]) and sent whether or not earlier ones have answered, the
//! way independent users arrive. Latency counts from the due time, so a
//! generator that falls behind cannot hide queueing (no coordinated
//! omission); how late each request left is recorded too, so a generator that
//! cannot keep up says so.

use std::time::Instant;

use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::StdRng;
use topolab_model::{Arrivals, RateStage};

use super::issuing::Issuing;
use super::pacer;
use super::shape;

/// Sends through `stages` until they end or the first stop; in-flight
/// requests are left in `l.in_flight`. Fails when the pacer cannot start or
/// its timer fails: a generator that cannot pace sends nothing more, and a
/// run that went on without it would report a load that was never sent.
pub(crate) async fn run(
    l: Issuing<'_>,
    stages: &[RateStage],
    arrivals: Arrivals,
) -> anyhow::Result<()> {
    let end = l.end(stages.iter().map(|s| s.duration));
    let (recorder, mix) = (&l.recorder, &l.mix);
    let schedule = shape::schedule(stages, arrivals, l.begin, l.seed);
    let mut dues = pacer::Dues::new(schedule, l.stop.clone())
        .context("could not start the load pacer (a timerfd on the generator's thread)")?;
    // Who each request goes to and as whom: drawn apart from the arrival times.
    let mut rng = StdRng::seed_from_u64(l.seed.rotate_left(17) ^ 0x5e55_1045);
    while let Some(due) = dues.recv().await.context("the load pacer's timer failed")? {
        recorder.lock().sent(due);
        let target = mix.pick(&mut rng);
        let session = mix.random_session(&mut rng);
        let recorder = recorder.clone();
        l.in_flight.spawn(async move {
            let late = Instant::now().saturating_duration_since(due);
            let sent = target.send(&session).await;
            let mut r = recorder.lock();
            r.left_late(late);
            r.finish(due, &sent);
        });
        // A finished task stays in the set (with its whole future's memory)
        // until joined: reap them as we go, or memory grows with every
        // request sent (~3 KB each) for the whole run.
        while l.in_flight.try_join_next().is_some() {}
    }
    l.ended(end);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::process::Command;

    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    use topolab_model::Pattern;

    use std::sync::Arc;

    use parking_lot::Mutex;
    use tokio::sync::watch;

    use super::*;
    use crate::mix::Mix;
    use crate::recorder::Recorder;

    /// Set in the child process that runs [`starved_of_descriptors`].
    const STARVED: &str = "TOPOLAB_TEST_STARVED_OF_DESCRIPTORS";

    /// A pacer that cannot start fails its generator, naming the pacer, and
    /// nothing is sent. Its timerfd fails for real, for want of a file
    /// descriptor; the descriptor limit is the whole process's, so the
    /// starved part runs alone in a process of its own (this test binary).
    #[test]
    fn a_pacer_that_cannot_start_fails_the_generator() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "open::tests::starved_of_descriptors",
                "--include-ignored",
                "--test-threads=1",
            ])
            .env(STARVED, "1")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{said}");
        assert!(
            said.contains("test open::tests::starved_of_descriptors ... ok"),
            "the starved generator did not run: {said}"
        );
    }

    /// The child of [`a_pacer_that_cannot_start_fails_the_generator`]: a
    /// generator of an open loop at 1000/s, started with no descriptor left
    /// for its pacer.
    #[test]
    #[ignore = "lowers the process's descriptor limit: run by a_pacer_that_cannot_start_fails_the_generator"]
    fn starved_of_descriptors() {
        assert!(std::env::var_os(STARVED).is_some(), "run it in a child");
        let yaml = "name: t\nservices:\n  s:\n    endpoints:\n      E: {}\nload:\n  g:\n    target: s/E\n    rate: 1000/s\n    duration: 60s\n";
        let generator = topolab_model::load_str("t.yaml", yaml, &[])
            .unwrap()
            .topology
            .load
            .remove(0);
        assert!(matches!(generator.pattern, Pattern::Open { .. }));
        let peers = BTreeMap::from([("s".to_string(), vec!["127.0.0.1:1".parse().unwrap()])]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let recorder = Arc::new(Mutex::new(Recorder::default()));
        let ran = runtime.block_on(async {
            let mix = Arc::new(Mix::new(&generator, &peers, None, 0.0).unwrap());
            let (_stop_tx, stop) = watch::channel(false);
            let (_abort_tx, abort) = watch::channel(false);
            let signals = crate::StopSignals { stop, abort };
            let hoard = take_every_descriptor();
            let ran = crate::run_one(
                &generator,
                mix,
                Instant::now(),
                1,
                signals,
                recorder.clone(),
                None,
            )
            .await;
            drop(hoard);
            ran
        });
        let e = ran.expect_err("a generator without a pacer ran");
        let said = format!("{e:#}");
        assert!(said.contains("could not start the load pacer"), "{said}");
        assert!(said.contains("Too many open files"), "{said}");
        assert_eq!(recorder.lock().sent, 0);
    }

    /// Lowers this process's descriptor limit to 64 and opens descriptors
    /// until none is left; they are closed when the result is dropped.
    fn take_every_descriptor() -> Vec<std::fs::File> {
        let was = getrlimit(Resource::Nofile);
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(64),
                maximum: was.maximum,
            },
        )
        .unwrap();
        let mut hoard = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            hoard.push(f);
            assert!(hoard.len() <= 64, "the descriptor limit did not hold");
        }
        hoard
    }
}
