//! The replica's figures as Prometheus metrics, built at each scrape from the
//! counters and HDR histograms the request path keeps anyway (see
//! [`crate::stats`]), so serving `/metrics` costs requests nothing.
//!
//! Names follow go-grpc-prometheus for the gRPC server (`grpc_server_*` with
//! `grpc_type`, `grpc_service`, `grpc_method`, `grpc_code`); topolab's own are
//! under `topolab_`, labelled with `service`, `replica` and, per figure, the
//! `endpoint`, `code` or `callee`.

use std::collections::HashMap;
use std::sync::Arc;

use hdrhistogram::Histogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::replica::Replica;

/// Upper bounds of the latency buckets, in seconds (go-grpc-prometheus's
/// defaults, refined below 5 ms where a hop's cost lives).
pub const BUCKETS_S: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The gRPC service and method every request to a replica goes through.
const GRPC_SERVICE: &str = "topolab.v1.Replica";
const GRPC_METHOD: &str = "Call";

type Labels = Vec<(&'static str, String)>;

/// Reads one count of a callee's figures.
type CalleeCount = fn(&topolab_proto::v1::CalleeStats) -> u64;

/// Encodes one replica's metrics on every scrape.
#[derive(Debug)]
pub struct ReplicaCollector {
    replica: Arc<Replica>,
}

impl ReplicaCollector {
    /// The collector of `replica`'s figures.
    pub fn new(replica: Arc<Replica>) -> Self {
        Self { replica }
    }

    fn base(&self) -> Labels {
        vec![
            ("service", self.replica.service().name.clone()),
            ("replica", self.replica.index().to_string()),
        ]
    }
}

/// Per endpoint, what one scrape reads: outcomes by gRPC code, rejections,
/// deadline drops, and the three histograms as Prometheus buckets.
struct Scraped {
    endpoint: String,
    /// Arrivals, answered or not yet.
    requests: u64,
    by_code: Vec<(String, u64)>,
    rejected: u64,
    deadline_dropped: u64,
    histograms: [Buckets; 3],
}

impl Collector for ReplicaCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut endpoints = Vec::new();
        self.replica.stats().visit(|name, counts| {
            let mut by_code = vec![("OK".to_string(), counts.ok)];
            if counts.rejected > 0 {
                by_code.push(("RESOURCE_EXHAUSTED".into(), counts.rejected));
            }
            for (code, n) in &counts.errors {
                match by_code.iter_mut().find(|(c, _)| c == code) {
                    Some((_, total)) => *total += n,
                    None => by_code.push((code.clone(), *n)),
                }
            }
            endpoints.push(Scraped {
                endpoint: name.to_string(),
                requests: counts.requests,
                by_code,
                rejected: counts.rejected,
                deadline_dropped: counts.deadline_dropped,
                histograms: [&counts.latency_us, &counts.queue_wait_us, &counts.work_us]
                    .map(Buckets::of),
            });
        });
        self.encode_grpc(&mut enc, &endpoints)?;
        self.encode_endpoints(&mut enc, &endpoints)?;
        self.encode_levels(&mut enc)?;
        self.encode_calls(&mut enc)
    }
}

impl ReplicaCollector {
    /// `grpc_server_started_total`, `grpc_server_handled_total` and
    /// `grpc_server_handling_seconds`, all endpoints together (they are one
    /// gRPC method).
    fn encode_grpc(
        &self,
        enc: &mut DescriptorEncoder,
        endpoints: &[Scraped],
    ) -> Result<(), std::fmt::Error> {
        let grpc = |code: Option<&str>| -> Labels {
            let mut l = vec![
                ("grpc_type", "unary".to_string()),
                ("grpc_service", GRPC_SERVICE.to_string()),
                ("grpc_method", GRPC_METHOD.to_string()),
            ];
            if let Some(c) = code {
                l.push(("grpc_code", c.to_string()));
            }
            l
        };
        let mut by_code: Vec<(String, u64)> = Vec::new();
        for e in endpoints {
            for (code, n) in &e.by_code {
                match by_code.iter_mut().find(|(c, _)| c == code) {
                    Some((_, total)) => *total += n,
                    None => by_code.push((code.clone(), *n)),
                }
            }
        }
        let started: u64 = endpoints.iter().map(|e| e.requests).sum();
        counter(
            enc,
            "grpc_server_started",
            "RPCs started on the server (arrived, answered or not yet).",
            [(grpc(None), started)],
        )?;
        counter(
            enc,
            "grpc_server_handled",
            "RPCs completed on the server, by gRPC status code.",
            by_code.iter().map(|(c, n)| (grpc(Some(c)), *n)),
        )?;
        let mut merged = Buckets::default();
        for e in endpoints {
            merged.add(&e.histograms[0]);
        }
        histogram(
            enc,
            "grpc_server_handling_seconds",
            "Response latency of RPCs handled by the server (rejections excluded: they never waited).",
            [(grpc(None), merged)],
        )
    }

    /// Requests, rejections and deadline drops by endpoint and code; the
    /// latency, queue-wait and work histograms by endpoint.
    fn encode_endpoints(
        &self,
        enc: &mut DescriptorEncoder,
        endpoints: &[Scraped],
    ) -> Result<(), std::fmt::Error> {
        let with = |pairs: &[(&'static str, &str)]| -> Labels {
            let mut l = self.base();
            l.extend(pairs.iter().map(|(k, v)| (*k, v.to_string())));
            l
        };
        counter(
            enc,
            "topolab_requests",
            "Requests answered, by endpoint and gRPC code (rejections are RESOURCE_EXHAUSTED).",
            endpoints.iter().flat_map(|e| {
                e.by_code
                    .iter()
                    .map(|(c, n)| (with(&[("endpoint", &e.endpoint), ("code", c)]), *n))
            }),
        )?;
        counter(
            enc,
            "topolab_rejections",
            "Requests turned away at once because the queue was full.",
            endpoints
                .iter()
                .map(|e| (with(&[("endpoint", &e.endpoint)]), e.rejected)),
        )?;
        counter(
            enc,
            "topolab_deadline_dropped",
            "Queued requests dropped unserved because their caller's deadline had passed.",
            endpoints
                .iter()
                .map(|e| (with(&[("endpoint", &e.endpoint)]), e.deadline_dropped)),
        )?;
        let names = [
            (
                "topolab_request_duration_seconds",
                "Arrival to response, per endpoint.",
            ),
            (
                "topolab_queue_wait_seconds",
                "Time waiting for a worker, per endpoint.",
            ),
            (
                "topolab_work_seconds",
                "Time spent in work steps, per endpoint.",
            ),
        ];
        for (i, (name, help)) in names.into_iter().enumerate() {
            histogram(
                enc,
                name,
                help,
                endpoints
                    .iter()
                    .map(|e| (with(&[("endpoint", &e.endpoint)]), e.histograms[i].clone())),
            )?;
        }
        Ok(())
    }

    /// Queue length, workers busy and the pool's size, at the scrape.
    fn encode_levels(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let admission = self.replica.admission();
        let levels = [
            (
                "topolab_queue_length",
                "Requests waiting for a worker now.",
                admission.depth() as i64,
            ),
            (
                "topolab_workers_busy",
                "Workers serving a request now.",
                i64::from(admission.in_flight()),
            ),
            (
                "topolab_workers",
                "The service's worker pool size.",
                i64::from(self.replica.service().workers),
            ),
        ];
        for (name, help, v) in levels {
            gauge(enc, name, help, [(self.base(), v)])?;
        }
        Ok(())
    }

    /// Calls this replica made, by callee endpoint and code; retries, denied
    /// retries, breaker refusals and openings; each breaker's state.
    fn encode_calls(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let clients = self.replica.clients();
        let callees = clients.to_proto();
        let with = |callee: &str, more: Option<(&'static str, &str)>| -> Labels {
            let mut l = self.base();
            l.push(("callee", callee.to_string()));
            l.extend(more.map(|(k, v)| (k, v.to_string())));
            l
        };
        counter(
            enc,
            "topolab_calls",
            "Attempts this replica made to a callee endpoint (service/Endpoint), by gRPC code.",
            callees.iter().flat_map(|c| {
                c.outcomes
                    .iter()
                    .map(|(code, n)| (with(&c.callee, Some(("code", code))), *n))
            }),
        )?;
        let per_callee: [(&str, &str, CalleeCount); 4] = [
            (
                "topolab_retries",
                "Retries sent to a callee endpoint.",
                |c| c.retries,
            ),
            (
                "topolab_retries_denied",
                "Retries the retry budget refused.",
                |c| c.retries_denied,
            ),
            (
                "topolab_breaker_rejected",
                "Attempts failed at once by an open circuit breaker.",
                |c| c.breaker_rejected,
            ),
            (
                "topolab_breaker_opened",
                "Times the circuit breaker opened.",
                |c| c.breaker_opened,
            ),
        ];
        for (name, help, value) in per_callee {
            counter(
                enc,
                name,
                help,
                callees.iter().map(|c| (with(&c.callee, None), value(c))),
            )?;
        }
        gauge(
            enc,
            "topolab_breaker_state",
            "Circuit breaker per callee endpoint: 0 closed, 1 open, 2 half-open.",
            clients
                .breaker_states()
                .into_iter()
                .map(|(callee, s)| (with(&callee, None), i64::from(s))),
        )
    }
}

/// One family of counters (`_total` is appended to `name`).
fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in series {
        ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One family of gauges.
fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in series {
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One family of histograms.
fn histogram(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, Buckets)>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, b) in series {
        let buckets: Vec<(f64, u64)> = BUCKETS_S
            .iter()
            .copied()
            .chain([f64::MAX])
            .zip(b.counts.iter().copied())
            .collect();
        m.encode_family(&labels)?.encode_histogram(
            b.sum_s,
            b.count,
            &buckets,
            None::<&HashMap<usize, Exemplar<NoLabelSet, f64>>>,
        )?;
    }
    Ok(())
}

/// An HDR histogram (microseconds) read into Prometheus buckets: the count
/// in each bucket of [`BUCKETS_S`] plus +Inf (not cumulative), the total
/// count and the sum in seconds. Within HDR's 3 significant figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets {
    pub counts: [u64; BUCKETS_S.len() + 1],
    pub count: u64,
    pub sum_s: f64,
}

impl Buckets {
    /// Reads `h` (values in µs).
    pub fn of(h: &Histogram<u64>) -> Self {
        let mut counts = [0; BUCKETS_S.len() + 1];
        let mut below = 0;
        for (i, bound) in BUCKETS_S.iter().enumerate() {
            let upto = h.count_between(0, (bound * 1e6) as u64);
            counts[i] = upto - below;
            below = upto;
        }
        counts[BUCKETS_S.len()] = h.len() - below;
        Buckets {
            counts,
            count: h.len(),
            sum_s: h.mean() * h.len() as f64 / 1e6,
        }
    }

    fn add(&mut self, other: &Buckets) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum_s += other.sum_s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_an_hdr_histogram_at_the_bounds() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for us in [100, 800, 800, 3_000, 2_000_000, 20_000_000] {
            h.record(us).unwrap();
        }
        let b = Buckets::of(&h);
        assert_eq!(b.count, 6);
        assert_eq!(b.counts.iter().sum::<u64>(), 6);
        assert_eq!(b.counts[0], 1, "0.1 ms in le=0.0005");
        assert_eq!(b.counts[1], 2, "0.8 ms in le=0.001");
        assert_eq!(b.counts[3], 1, "3 ms in le=0.005");
        assert_eq!(b.counts[11], 1, "2 s in le=2.5");
        assert_eq!(b.counts[14], 1, "20 s in +Inf");
        assert!((b.sum_s - 22.0047).abs() < 0.05, "{}", b.sum_s);
    }
}
