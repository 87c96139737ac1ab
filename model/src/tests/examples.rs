//! The spec's examples parse to the expected checked topology, with every
//! default filled in.

use std::time::Duration;

use crate::*;

pub(super) const DINER: &str = "\
name: diner
description: One kitchen that cooks about five orders a second, and a lunch rush.

services:
  kitchen:
    workers: 1          # one cook: one order at a time
    queue: 10           # ten tickets fit on the rail; the eleventh is turned away
    endpoints:
      Cook:
        steps:
          - work: exp(200ms)

load:
  customers:
    target: kitchen/Cook
    rate: 4/s           # Poisson arrivals, open loop
    duration: 30s
";

#[test]
fn the_diner() {
    let loaded = load_str("diner.yaml", DINER, &[]).unwrap();
    assert_eq!(loaded.yaml, DINER);
    assert!(loaded.warnings.is_empty());
    let want = Topology {
        name: "diner".into(),
        description: Some(
            "One kitchen that cooks about five orders a second, and a lunch rush.".into(),
        ),
        services: vec![Service {
            name: "kitchen".into(),
            replicas: 1,
            workers: 1,
            queue: Some(10),
            discipline: Discipline::Fifo,
            model: ServeModel::Blocking,
            balance: Balance::RoundRobin,
            endpoints: vec![Endpoint {
                name: "Cook".into(),
                steps: vec![Step::Work(Dist::Exp {
                    mean: Duration::from_millis(200),
                })],
                response: 0,
                errors: None,
            }],
            kind: Kind::Service,
            state: State::Stateless,
            session_miss: vec![],
            restart: Restart::Never,
            deadlines: Deadlines::Honor,
            updates: None,
        }],
        load: vec![Generator {
            name: "customers".into(),
            target: Target {
                service: "kitchen".into(),
                endpoint: "Cook".into(),
            },
            mix: vec![Weighted {
                target: Target {
                    service: "kitchen".into(),
                    endpoint: "Cook".into(),
                },
                share: 1.0,
            }],
            pattern: Pattern::Open {
                arrivals: Arrivals::Poisson,
                stages: vec![RateStage {
                    from: 4.0,
                    to: 4.0,
                    duration: Duration::from_secs(30),
                }],
            },
            duration: Duration::from_secs(30),
            start: Duration::ZERO,
            timeout: Duration::from_secs(10),
            retries: 0,
            request: 0,
            sessions: 0,
            follow: None,
        }],
        settings: Settings {
            seed: None,
            timeout: Duration::from_millis(1000),
            sample_every: Duration::from_millis(100),
            trace: 1.0,
            trace_budget: 256 << 20,
            warmup: Duration::ZERO,
        },
        faults: vec![],
        network: Default::default(),
    };
    assert_eq!(loaded.topology, want);
}

const STEPS: &str = "\
name: steps
settings:
  timeout: 300ms
  seed: 42
services:
  front:
    replicas: 2
    workers: 8
    queue: unbounded
    discipline: lifo
    model: async
    balance: round_robin
    endpoints:
      Feed:
        response: 4KiB
        errors: 1% UNAVAILABLE
        steps:
          - work: exp(2ms)              # hold the worker for a sampled duration
          - call: auth/Verify           # this service now acts as a client
            timeout: 50ms               # per attempt (default: settings.timeout)
            retries: 2
            backoff: exp(10ms)          # wait before each retry
            probability: 100%           # chance the call happens at all
            times: 1                    # sequential repetitions (the N+1 query pattern)
            request: 1KiB               # request payload size
            on_error: fail
          - parallel:                   # branches run at once
              - call: posts/List
              - call: users/Get
                on_error: continue
              - [ {work: 1ms}, {call: cache/Get} ]   # a branch may be a list of steps
  auth: { endpoints: { Verify: { steps: [ {work: \"uniform(1ms, 3ms)\"} ] } } }
  posts: { endpoints: { List: { steps: [ {work: 'lognormal(10ms, 20ms)'} ] } } }
  users: { endpoints: { Get: } }
  cache: { endpoints: { Get: { steps: [] } } }
load:
  rush:
    target: front/Feed
    clients: 10
    think: exp(1s)
    duration: 2m
    start: 1.5s
    timeout: 2s
    retries: 1
    request: 256B
";

fn call(service: &str, endpoint: &str) -> Call {
    Call {
        service: service.into(),
        endpoint: endpoint.into(),
        timeout: Duration::from_millis(300),
        retries: 0,
        backoff: None,
        probability: 1.0,
        times: 1,
        request: 0,
        on_error: OnError::Fail,
        retry_budget: Some(DEFAULT_RETRY_BUDGET),
        backoff_shape: BackoffShape::default(),
        breaker: None,
    }
}

#[test]
fn the_steps_example() {
    let t = load_str("steps.yaml", STEPS, &[]).unwrap().topology;
    assert_eq!(
        t.settings,
        Settings {
            seed: Some(42),
            timeout: Duration::from_millis(300),
            sample_every: Duration::from_millis(100),
            trace: 1.0,
            trace_budget: 256 << 20,
            warmup: Duration::ZERO,
        }
    );
    let front = t.service("front").unwrap();
    assert_eq!((front.replicas, front.workers, front.queue), (2, 8, None));
    assert_eq!(
        (front.discipline, front.model),
        (Discipline::Lifo, ServeModel::Async)
    );
    let feed = front.endpoint("Feed").unwrap();
    assert_eq!(feed.response, 4096);
    assert_eq!(
        feed.errors,
        Some(ErrorInjection {
            rate: 0.01,
            status: StatusCode(14)
        })
    );
    let verify = Call {
        timeout: Duration::from_millis(50),
        retries: 2,
        backoff: Some(Dist::Exp {
            mean: Duration::from_millis(10),
        }),
        request: 1024,
        ..call("auth", "Verify")
    };
    let want = vec![
        Step::Work(Dist::Exp {
            mean: Duration::from_millis(2),
        }),
        Step::Call(verify),
        Step::Parallel(vec![
            vec![Step::Call(call("posts", "List"))],
            vec![Step::Call(Call {
                on_error: OnError::Continue,
                ..call("users", "Get")
            })],
            vec![
                Step::Work(Dist::Const(Duration::from_millis(1))),
                Step::Call(call("cache", "Get")),
            ],
        ]),
    ];
    assert_eq!(feed.steps, want);
    assert_eq!(t.service("users").unwrap().endpoints[0].steps, vec![]);
    assert_eq!(t.process_count(), 6);
    let rush = &t.load[0];
    assert_eq!(
        rush.pattern,
        Pattern::Closed {
            think: Some(Dist::Exp {
                mean: Duration::from_millis(1000)
            }),
            stages: vec![ClientStage {
                clients: 10,
                duration: Duration::from_millis(120_000)
            }]
        }
    );
    assert_eq!(
        (rush.duration, rush.start, rush.timeout),
        (
            Duration::from_millis(120_000),
            Duration::from_millis(1500),
            Duration::from_millis(2000)
        )
    );
    assert_eq!((rush.retries, rush.request), (1, 256));
}

#[test]
fn load_is_optional_and_empty_faults_are_fine() {
    let text = "name: idle\nservices:\n  a:\n    endpoints:\n      Ping: {}\nfaults: []\n";
    let t = load_str("idle.yaml", text, &[]).unwrap().topology;
    assert!(t.load.is_empty());
    assert_eq!(t.services[0].queue, Some(64));
}

#[test]
fn load_reads_a_file_and_names_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("topolab-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("diner.yaml");
    std::fs::write(&path, DINER).unwrap();
    assert_eq!(load(&path, &[]).unwrap().topology.name, "diner");
    std::fs::remove_dir_all(&dir).unwrap();
    let e = load(&path, &[]).unwrap_err();
    assert!(e.errors[0].starts_with("error: cannot read"), "{e}");
}

#[test]
fn every_example_in_topologies_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for path in entries.map(|e| e.unwrap().path()) {
        if path.extension().is_some_and(|e| e == "yaml")
            && let Err(report) = load(&path, &[])
        {
            panic!("{} does not load:\n{report}", path.display());
        }
    }
}
