//! The simulator's followers held to what each way must cost and give: a
//! poller is about half its interval stale and asks clients / interval
//! times a second whatever the data does; a long poll is stale by its
//! answer's way back and is held by a worker only in `blocking`; a stream
//! pushes every version to every subscriber and keeps a worker only in
//! `blocking`; and the versions are the run's own timeline.

use std::time::Duration;

use topolab_model::{Dist, Limits, Timeline, load_str_with};
use topolab_sim::{Figures, Options, simulate};

/// One hop's round trip: 1 ms, so half a millisecond each way.
const HOP: u64 = 1_000_000;

fn yaml(model: &str, workers: u32, queue: u32, updates: &str, load: &str) -> String {
    format!(
        "name: t\nservices:\n  scores:\n    updates: {updates}\n    model: {model}\n    workers: {workers}\n    queue: {queue}\n    endpoints:\n      Latest:\n        steps:\n          - work: 1ms\nload:\n  fans:\n{load}"
    )
}

fn sim(yaml: &str) -> Figures {
    let loaded =
        load_str_with("t.yaml", yaml, &[], Limits::SIMULATION).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        seed: 11,
        hop_cost: HOP,
        telemetry: false,
        ..Options::default()
    };
    simulate(&loaded.topology, &opts).expect("simulates")
}

fn stale_mean_ms(f: &Figures) -> f64 {
    f.freshness[0]
        .as_ref()
        .expect("a follower")
        .staleness_us()
        .mean()
        / 1e3
}

#[test]
fn a_poller_is_half_its_interval_stale_and_asks_whatever_the_data_does() {
    let f = sim(&yaml(
        "async",
        16,
        64,
        "exp(1s)",
        "    target: scores/Latest\n    clients: 20\n    poll: 1s\n    duration: 60s\n",
    ));
    let fresh = f.freshness[0].as_ref().unwrap();
    // 1200 versions × clients, each uniform over the interval: ±8 ms is one
    // standard error, so 40 ms is five.
    let mean = stale_mean_ms(&f);
    assert!(
        (460.0..540.0).contains(&mean),
        "poll staleness {mean:.1} ms"
    );
    let ep = &f.endpoints[0][0];
    let per_s = ep.requests as f64 / 60.0;
    assert!((19.5..20.5).contains(&per_s), "{per_s:.2} polls/s, not 20");
    // Every version each client lived through was seen, skipped, or still
    // unheld at the end (at most one per client).
    let all = fresh.versions_created() * 20;
    let counted = fresh.versions_seen() + fresh.versions_missed();
    assert!(counted <= all && counted + 20 >= all, "{counted} of {all}");
    assert!(
        fresh.versions_missed() > 0,
        "exp(1s) polled every 1 s skips some"
    );
}

#[test]
fn a_long_poll_is_stale_by_its_answers_way_back() {
    let f = sim(&yaml(
        "async",
        16,
        64,
        "300ms",
        "    target: scores/Latest\n    clients: 40\n    long_poll: 30s\n    duration: 10s\n",
    ));
    // Held until the version appears, answered then: half a hop later the
    // client holds it.
    let mean = stale_mean_ms(&f);
    assert!(
        (0.45..0.56).contains(&mean),
        "long-poll staleness {mean:.3} ms"
    );
    let ep = &f.endpoints[0][0];
    // An event loop holds every waiting client at once, no worker each.
    assert_eq!(ep.follow.max_held, 40);
    assert_eq!(ep.rejected, 0);
    // One request per client per version (33 in 10 s), and the first.
    let per_client = ep.requests as f64 / 40.0;
    assert!(
        (33.0..=35.0).contains(&per_client),
        "{per_client} per client"
    );
    assert_eq!(f.freshness[0].as_ref().unwrap().versions_missed(), 0);
}

#[test]
fn held_long_polls_take_a_blocking_servers_workers_but_not_an_async_ones() {
    let load =
        "    target: scores/Latest\n    clients: 40\n    long_poll: 30s\n    duration: 10s\n";
    let blocking = sim(&yaml("blocking", 16, 8, "300ms", load));
    let ep = &blocking.endpoints[0][0];
    assert_eq!(ep.follow.max_held, 16, "a thread per held request");
    assert!(
        ep.rejected > 0,
        "16 held and 8 queued: the rest turned away"
    );
    let async_ = sim(&yaml("async", 16, 8, "300ms", load));
    let ep = &async_.endpoints[0][0];
    assert_eq!(ep.follow.max_held, 40);
    assert!(stale_mean_ms(&blocking) > 10.0 * stale_mean_ms(&async_));
}

#[test]
fn a_stream_pushes_every_version_to_every_subscriber() {
    let f = sim(&yaml(
        "async",
        16,
        64,
        "300ms",
        "    subscribe: scores/Latest\n    clients: 30\n    duration: 10s\n",
    ));
    let ep = &f.endpoints[0][0];
    let fresh = f.freshness[0].as_ref().unwrap();
    assert_eq!(fresh.versions_created(), 33);
    assert_eq!(ep.follow.pushed, 33 * 30);
    assert_eq!((ep.follow.streams_opened, ep.follow.max_streams), (30, 30));
    assert_eq!(ep.requests, 30, "a stream is opened once");
    // Each push runs 1 ms of work on one of 16 workers, then half a hop:
    // 30 pushes take two rounds of work.
    let mean = stale_mean_ms(&f);
    assert!((1.5..2.6).contains(&mean), "stream staleness {mean:.3} ms");
}

#[test]
fn a_blocking_server_opens_no_more_streams_than_it_has_workers() {
    let f = sim(&yaml(
        "blocking",
        16,
        64,
        "300ms",
        "    subscribe: scores/Latest\n    clients: 30\n    duration: 10s\n",
    ));
    let ep = &f.endpoints[0][0];
    assert_eq!(ep.follow.max_streams, 16);
    // The other 14 wait in the queue for a worker that never frees: they
    // see nothing, and count stale until the end.
    let fresh = f.freshness[0].as_ref().unwrap();
    assert_eq!(fresh.versions_seen(), 33 * 16);
}

#[test]
fn the_versions_are_the_runs_own_timeline() {
    let f = sim(&yaml(
        "async",
        16,
        64,
        "exp(500ms)",
        "    subscribe: scores/Latest\n    clients: 5\n    duration: 20s\n",
    ));
    let gaps = Dist::Exp {
        mean: Duration::from_millis(500),
    };
    let mut timeline = Timeline::new(11, "scores", gaps);
    let end = f.load[0].issue_end.expect("the generator ended");
    let expected = timeline.version_at(Duration::from_nanos(end));
    let fresh = f.freshness[0].as_ref().unwrap();
    assert_eq!(fresh.versions_created(), expected);
    assert_eq!(f.endpoints[0][0].follow.pushed, expected * 5);
}

#[test]
fn clients_that_come_and_go_and_a_killed_replica_are_followed_through() {
    // Stages take clients away and back, a kill breaks every stream and
    // held poll at 5 s: wakes for one client can fall due together (a
    // broken stream's backoff and its turn's end, both at the generator's
    // end), and each client still ends once.
    let f = sim(concat!(
        "name: t\nservices:\n  scores:\n    updates: 200ms\n    model: blocking\n",
        "    workers: 8\n    queue: 4\n    restart: always\n    endpoints:\n      Latest:\n",
        "        steps:\n          - work: 1ms\nload:\n  subs:\n    subscribe: scores/Latest\n",
        "    stages:\n      - { clients: 10, for: 3s }\n      - { clients: 2, for: 3s }\n",
        "      - { clients: 12, for: 3s }\n  lps:\n    target: scores/Latest\n",
        "    long_poll: 30s\n    stages:\n      - { clients: 3, for: 4s }\n",
        "      - { clients: 6, for: 4s }\n  polls:\n    target: scores/Latest\n",
        "    poll: 500ms\n    stages:\n      - { clients: 3, for: 4s }\n",
        "      - { clients: 0, for: 2s }\n      - { clients: 3, for: 4s }\n",
        "faults:\n  - { at: 5s, target: \"scores#0\", kill: true }\n",
    ));
    let ep = &f.endpoints[0][0];
    // A thread per open stream or held poll: never more than the workers.
    assert!(
        ep.follow.max_streams <= 8 && ep.follow.max_held <= 8,
        "{:?}",
        ep.follow
    );
    for (g, fresh) in f.freshness.iter().enumerate() {
        let fresh = fresh.as_ref().expect("every generator follows");
        assert!(fresh.versions_created() > 0, "generator {g}");
        assert!(fresh.reconnects() > 0, "generator {g}: the kill cut it off");
    }
    assert!(f.load.iter().all(|l| l.issue_end.is_some()));
}
