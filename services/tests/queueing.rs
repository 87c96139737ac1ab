//! Queues and workers seen from outside: rejection when full, the blocking
//! and async serving models, and requests whose caller gave up.

mod common;

use std::time::Duration;

use common::*;
use tokio::time::Instant;
use tonic::Code;
use topolab_model::{ServeModel, Step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overloaded_single_worker_rejects_and_queue_stays_bounded() {
    let kitchen = service(
        "kitchen",
        1,
        Some(3),
        vec![endpoint("Cook", vec![work(Duration::from_millis(50))])],
    );
    let cluster = Cluster::start(topology(vec![kitchen])).await;
    let client = cluster.client("kitchen").await;

    let calls: Vec<_> = (0..20)
        .map(|_| {
            let mut c = client.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                (c.call(request("Cook")).await, t.elapsed())
            })
        })
        .collect();
    let (mut ok, mut rejected, mut reject_times) = (0, 0, vec![]);
    for call in calls {
        match call.await.unwrap() {
            (Ok(r), _) => {
                assert_eq!(r.into_inner().replica, "kitchen#0");
                ok += 1;
            }
            (Err(s), t) => {
                assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
                assert!(
                    s.message().contains("kitchen#0 queue full (3/3)"),
                    "{}",
                    s.message()
                );
                rejected += 1;
                reject_times.push(t);
            }
        }
    }
    assert_eq!(ok + rejected, 20);
    assert!(
        rejected >= 10,
        "20 at once into 1 worker + 3 places: {rejected} rejected"
    );
    // Rejection is immediate: it never waits for the 50 ms of a cook.
    reject_times.sort();
    assert!(
        reject_times[reject_times.len() / 2] < Duration::from_millis(200),
        "{reject_times:?}"
    );

    let s = cluster.stats("kitchen", 0).await;
    let e = endpoint_stats(&s, "Cook");
    assert_eq!((e.ok, e.rejected), (ok, rejected));
    assert!(
        e.max_queue <= 3 && e.max_queue >= 1,
        "max_queue {}",
        e.max_queue
    );
    assert_eq!(
        histogram(&e.latency_us).len(),
        ok,
        "rejections carry no latency"
    );
    assert_eq!((s.queue, s.in_flight), (0, 0));
}

/// Five requests at once into one worker, each calling a slow callee:
/// `blocking` holds the worker across the call (one at a time), `async`
/// lets go of it (the calls overlap).
async fn five_through_one_worker(model: ServeModel) -> Duration {
    let mut front = service(
        "front",
        1,
        None,
        vec![endpoint(
            "Get",
            vec![
                work(Duration::from_millis(1)),
                Step::Call(call("slow/Wait")),
            ],
        )],
    );
    front.model = model;
    let slow = service(
        "slow",
        16,
        None,
        vec![endpoint("Wait", vec![work(Duration::from_millis(200))])],
    );
    let cluster = Cluster::start(topology(vec![front, slow])).await;
    let client = cluster.client("front").await;
    // Connect to the callee once before timing.
    client.clone().call(request("Get")).await.unwrap();

    let t = Instant::now();
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let mut c = client.clone();
            tokio::spawn(async move { c.call(request("Get")).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let took = t.elapsed();
    let s = cluster.stats("slow", 0).await;
    assert_eq!(endpoint_stats(&s, "Wait").ok, 6);
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_serves_one_at_a_time_while_async_overlaps() {
    let blocking = five_through_one_worker(ServeModel::Blocking).await;
    let overlapped = five_through_one_worker(ServeModel::Async).await;
    println!("5 requests, 1 worker, 200 ms callee: blocking {blocking:?}, async {overlapped:?}");
    // Physical lower bound for blocking: five 200 ms holds in a row.
    assert!(
        blocking >= Duration::from_millis(1000),
        "blocking {blocking:?}"
    );
    assert!(
        overlapped < Duration::from_millis(700),
        "async {overlapped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_caller_gave_up_is_dropped_unserved() {
    let svc = service(
        "db",
        1,
        Some(10),
        vec![endpoint("Query", vec![work(Duration::from_millis(300))])],
    );
    let cluster = Cluster::start(topology(vec![svc])).await;
    let client = cluster.client("db").await;

    let mut first = client.clone();
    let first = tokio::spawn(async move { first.call(request("Query")).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut impatient = tonic::Request::new(request("Query"));
    impatient.set_timeout(Duration::from_millis(50));
    let err = client.clone().call(impatient).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{err:?}"
    );
    first.await.unwrap().unwrap();

    // An already expired deadline: dropped when it leaves the (empty) queue.
    let mut expired = tonic::Request::new(request("Query"));
    expired.set_timeout(Duration::from_nanos(1));
    let err = client.clone().call(expired).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{err:?}"
    );

    tokio::time::sleep(Duration::from_millis(50)).await;
    let s = cluster.stats("db", 0).await;
    let e = endpoint_stats(&s, "Query");
    assert_eq!(e.ok, 1);
    assert_eq!(e.deadline_dropped, e.requests - 1, "{e:?}");
    assert!(e.deadline_dropped >= 1, "{e:?}");
    assert_eq!(
        histogram(&e.work_us).len(),
        1,
        "no work done for callers that gave up"
    );
}
