//! Every replica serves Prometheus `/metrics`: a real Prometheus (Debian's
//! package) scrapes a topology kept up by `topolab up`, the test sends it a
//! bounded number of requests, and the query API's request counters must
//! equal what `summary.json` says once `up` is stopped.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, peers, require_peer, wait_for_line};
use serde_json::Value;
use topolab_proto::v1 as pb;
use topolab_proto::v1::replica_client::ReplicaClient;

/// Requests the test sends to the gateway: few, and all to processes it started.
const CALLS: u64 = 40;

/// Kills the Prometheus the test started, however the test ends.
struct Scraper(Child);

impl Drop for Scraper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines `  name#i  http://ADDR/metrics` and `  name#i  ADDR` that `up` prints.
fn addresses(lines: &[String]) -> (Vec<(String, String)>, BTreeMap<String, String>) {
    let mut metrics = Vec::new();
    let mut grpc = BTreeMap::new();
    for line in lines {
        let mut words = line.split_whitespace();
        let (Some(id), Some(addr), None) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        if !id.contains('#') {
            continue;
        }
        match addr.strip_prefix("http://") {
            Some(rest) => metrics.push((id.to_string(), rest.trim_end_matches("/metrics").into())),
            None => {
                grpc.insert(id.to_string(), addr.to_string());
            }
        }
    }
    (metrics, grpc)
}

fn free_port() -> u16 {
    // Prometheus takes a fixed port; the kernel picks one that is free now.
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `sum by (service, endpoint)`-style instant query; value per label set.
fn query(port: u16, promql: &str) -> Option<Vec<(Value, f64)>> {
    let url = format!("http://127.0.0.1:{port}/api/v1/query");
    let body: Value = ureq::get(&url)
        .query("query", promql)
        .call()
        .ok()?
        .body_mut()
        .read_json()
        .ok()?;
    let result = body["data"]["result"].as_array()?;
    Some(
        result
            .iter()
            .map(|r| {
                let v = r["value"][1]
                    .as_str()
                    .unwrap_or("nan")
                    .parse()
                    .unwrap_or(f64::NAN);
                (r["metric"].clone(), v)
            })
            .collect(),
    )
}

async fn send_calls(addr: &str) {
    let mut client = ReplicaClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    for _ in 0..CALLS {
        client
            .call(pb::CallRequest {
                endpoint: "PlaceOrder".into(),
                payload: vec![],
                session: String::new(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
}

#[test]
fn prometheus_scrapes_replicas_and_counts_match_the_summary() {
    if !require_peer(&peers::PROMETHEUS) {
        return;
    }
    let sandbox = Sandbox::new();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/chain.yaml");
    let mut up = sandbox.spawn_on("up", &file);
    // Metrics addresses come first, then every replica's gRPC address in
    // service order: orders#0 is the last line `up` prints.
    let lines = wait_for_line(&mut up, "orders#0  127.0.0.1:");
    let (metrics, grpc) = addresses(&lines);
    assert_eq!(
        metrics.len(),
        4,
        "one metrics address per replica: {lines:#?}"
    );

    let port = free_port();
    let targets: Vec<String> = metrics.iter().map(|(_, a)| format!("'{a}'")).collect();
    let config = sandbox.file(
        "prometheus.yml",
        &format!(
            "global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: topolab\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        ),
    );
    let data = sandbox.dir.path().join("tsdb");
    let _scraper = Scraper(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );

    let gateway = grpc.get("gateway#0").expect("gateway#0's address").clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(send_calls(&gateway));

    // Scraped every second: wait until Prometheus has seen every request.
    let until = Instant::now() + Duration::from_secs(30);
    let by_service = loop {
        let got = query(port, "sum by (service, endpoint) (topolab_requests_total)");
        if let Some(rows) = &got {
            let total: f64 = rows.iter().map(|(_, v)| v).sum();
            if total >= (4 * CALLS) as f64 {
                break got.unwrap();
            }
        }
        assert!(
            Instant::now() < until,
            "Prometheus never saw all requests: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let handled = query(port, "sum(grpc_server_handled_total{grpc_code=\"OK\"})").unwrap();

    common::interrupt(&up);
    assert!(up.wait().unwrap().success());
    let summary = sandbox.summary();
    let mut ok_total = 0;
    for (labels, v) in &by_service {
        let (service, endpoint) = (
            labels["service"].as_str().unwrap(),
            labels["endpoint"].as_str().unwrap(),
        );
        let e = &summary["services"][service]["endpoints"][endpoint];
        assert_eq!(
            *v as u64,
            e["requests"].as_u64().unwrap(),
            "{service}/{endpoint}: {e}"
        );
        ok_total += e["ok"].as_u64().unwrap();
    }
    assert_eq!(by_service.len(), 4, "{by_service:?}");
    assert_eq!(
        handled[0].1 as u64, ok_total,
        "grpc_server_handled_total{{OK}}"
    );
}
