//! Replicas as clients: chains of calls, round-robin over callee replicas,
//! injected errors, retries, `on_error`, and `parallel` branches.

mod common;

use std::time::Duration;

use common::*;
use tokio::time::Instant;
use tonic::Code;
use topolab_model::{OnError, Step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_calls_callee_and_both_count_it() {
    let mut get = call("db/Query");
    get.times = 2;
    get.request = 1024;
    let mut api_ep = endpoint("Get", vec![work(Duration::from_millis(1)), Step::Call(get)]);
    api_ep.response = 512;
    let api = service("api", 4, None, vec![api_ep]);
    let mut db = service(
        "db",
        4,
        None,
        vec![endpoint("Query", vec![work(Duration::from_millis(2))])],
    );
    db.replicas = 2;
    let cluster = Cluster::start(topology(vec![api, db])).await;
    let mut client = cluster.client("api").await;

    for _ in 0..10 {
        let reply = client.call(request("Get")).await.unwrap().into_inner();
        assert_eq!(reply.replica, "api#0");
        assert_eq!(reply.payload.len(), 512);
    }

    let api = cluster.stats("api", 0).await;
    assert_eq!(endpoint_stats(&api, "Get").ok, 10);
    let callee = &api.callees[0];
    assert_eq!(callee.callee, "db/Query");
    assert_eq!(callee.attempts, 20);
    assert_eq!(callee.outcomes["OK"], 20);
    // Round robin: each of the two db replicas served half.
    for index in 0..2 {
        let db = cluster.stats("db", index).await;
        assert_eq!(db.replica, index as u32);
        let q = endpoint_stats(&db, "Query");
        assert_eq!((q.requests, q.ok), (10, 10), "db#{index}");
        let work = histogram(&q.work_us);
        assert!(
            (1900..10_000).contains(&(work.mean() as u64)),
            "work mean {} us",
            work.mean()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_unavailable_gives_about_half_unavailable() {
    let flaky = with_errors(endpoint("Get", vec![]), 0.5, "UNAVAILABLE");
    let cluster = Cluster::start(topology(vec![service("flaky", 4, None, vec![flaky])])).await;
    let client = cluster.client("flaky").await;
    let n = 400;
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let mut c = client.clone();
            tokio::spawn(async move { c.call(request("Get")).await })
        })
        .collect();
    let mut unavailable = 0u64;
    for call in calls {
        if let Err(s) = call.await.unwrap() {
            assert_eq!(s.code(), Code::Unavailable);
            assert!(s.message().contains("injected"), "{}", s.message());
            unavailable += 1;
        }
    }
    // Binomial(400, 0.5): sd 10; ±60 is six sd.
    assert!((140..=260).contains(&unavailable), "{unavailable} of {n}");
    let s = cluster.stats("flaky", 0).await;
    let e = endpoint_stats(&s, "Get");
    assert_eq!(e.errors["UNAVAILABLE"], unavailable);
    assert_eq!(e.ok, n - unavailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_propagate_or_not_as_on_error_says() {
    let mut fail = call("down/Get");
    fail.retries = 2;
    let mut carry_on = call("down/Get");
    carry_on.on_error = OnError::Continue;
    let api = service(
        "api",
        2,
        None,
        vec![
            endpoint("Strict", vec![Step::Call(fail)]),
            endpoint("Lenient", vec![Step::Call(carry_on)]),
        ],
    );
    let down = service(
        "down",
        2,
        None,
        vec![with_errors(endpoint("Get", vec![]), 1.0, "UNAVAILABLE")],
    );
    let cluster = Cluster::start(topology(vec![api, down])).await;
    let mut client = cluster.client("api").await;

    let err = client.call(request("Strict")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    client.call(request("Lenient")).await.unwrap();

    let api = cluster.stats("api", 0).await;
    assert_eq!(endpoint_stats(&api, "Strict").errors["UNAVAILABLE"], 1);
    assert_eq!(endpoint_stats(&api, "Lenient").ok, 1);
    // Strict: 1 + 2 retries; Lenient: 1.
    assert_eq!(api.callees[0].attempts, 4);
    assert_eq!(
        endpoint_stats(&cluster.stats("down", 0).await, "Get").requests,
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_branches_run_at_once() {
    let branch = |_| vec![Step::Call(call("slow/Wait"))];
    let api = service(
        "api",
        1,
        None,
        vec![endpoint(
            "Fan",
            vec![Step::Parallel((0..4).map(branch).collect())],
        )],
    );
    let slow = service(
        "slow",
        8,
        None,
        vec![endpoint("Wait", vec![work(Duration::from_millis(150))])],
    );
    let cluster = Cluster::start(topology(vec![api, slow])).await;
    let mut client = cluster.client("api").await;
    client.call(request("Fan")).await.unwrap(); // connect
    let t = Instant::now();
    client.call(request("Fan")).await.unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(500),
        "4 parallel 150 ms calls took {took:?}"
    );
    assert_eq!(
        endpoint_stats(&cluster.stats("slow", 0).await, "Wait").ok,
        8
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_deadline_travels_down_the_chain() {
    let api = service(
        "api",
        1,
        None,
        vec![endpoint("Get", vec![Step::Call(call("db/Query"))])],
    );
    let db = service(
        "db",
        1,
        None,
        vec![endpoint("Query", vec![work(Duration::from_millis(500))])],
    );
    let cluster = Cluster::start(topology(vec![api, db])).await;
    let mut client = cluster.client("api").await;
    let mut req = tonic::Request::new(request("Get"));
    req.set_timeout(Duration::from_millis(100));
    let t = Instant::now();
    let err = client.call(req).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{err:?}"
    );
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    // db gave up too: its handler was dropped at the propagated deadline.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let q = endpoint_stats(&cluster.stats("db", 0).await, "Query").clone();
    assert_eq!(q.requests, 1);
    assert_eq!(q.ok, 0);
}
