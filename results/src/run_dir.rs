//! A run folder as the readers see it: the topology it ran (required), and
//! each of the other files the contract names when present. What is missing
//! is listed, so a report can say so instead of failing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use topolab_model::Topology;

use crate::hops::{self, HopSplit};
use crate::load_series::{self, LoadRow};
use crate::requests::{self, RequestSample};
use crate::summary::{self, Summary};
use crate::sweep::{self, Sweep};
use crate::timeseries::{self, ServiceSeries};
use crate::trace::compact::Chain;
use crate::trace::{self, Kind, TraceError};

/// Everything readable in one run folder.
pub struct RunDir {
    pub path: PathBuf,
    pub topology: Topology,
    /// `summary.json`, read through its owner.
    pub summary: Option<Summary>,
    /// `timeseries.csv` per service (read a row at a time: its size grows
    /// with replicas and run length, this with services only).
    pub timeseries: Option<BTreeMap<String, ServiceSeries>>,
    pub load: Option<Vec<LoadRow>>,
    pub hops: Option<BTreeMap<String, HopSplit>>,
    /// On a modelled network: each link's time on the wire per second
    /// (from the traces, placed in time through the sampled requests).
    pub wire: Option<BTreeMap<String, crate::links::WirePoints>>,
    /// `requests.csv`: each generator's sample of requests.
    pub requests: Option<Vec<RequestSample>>,
    /// Per trace id of a sampled request, the time it waited in queues
    /// over all its hops, in ms (from the traces).
    pub queue_ms: HashMap<String, f64>,
    /// Per trace id of a sampled long poll that was held, how long the
    /// servers held it waiting for a new version, in ms: not a queue's
    /// doing, so the report draws it apart from the latency.
    pub held_ms: HashMap<String, f64>,
    /// Per trace id of a sampled request, its chain as the report's page
    /// embeds it (bounded by the sample: at most 2,000 per generator).
    pub chains: HashMap<String, Chain>,
    /// `sweep.csv` (and `sweep.json`) when the folder also holds a sweep.
    pub sweep: Option<Sweep>,
    /// Each file that was absent or unreadable, with why.
    pub missing: Vec<(String, String)>,
    /// `prediction/`: the prediction `run --predict` made before this run.
    pub prediction: Option<Box<RunDir>>,
}

impl RunDir {
    /// Reads `dir`; fails only when `topology.yaml` is absent or invalid
    /// (then it is not a run folder).
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let yaml_path = dir.join("topology.yaml");
        let yaml = std::fs::read_to_string(&yaml_path).with_context(|| {
            format!(
                "{} is not a run folder: no readable topology.yaml",
                dir.display()
            )
        })?;
        let topology = topolab_model::load_str(&yaml_path.display().to_string(), &yaml, &[])
            .map_err(|r| anyhow::anyhow!("{}: invalid topology.yaml:\n{r}", dir.display()))?
            .topology;
        let mut missing = Vec::new();
        let mut opt = |file: &str, what: &str| -> Option<PathBuf> {
            let p = dir.join(file);
            if p.exists() {
                Some(p)
            } else {
                missing.push((file.to_string(), what.to_string()));
                None
            }
        };
        let summary_p = opt(summary::FILE, "run figures");
        let ts_p = opt(timeseries::FILE, "per-replica telemetry");
        let load_p = opt(load_series::FILE, "the load over time");
        let requests_p = opt(requests::FILE, "the sample of requests");
        let sweep_p = dir.join(sweep::CSV_FILE);
        let mut run = RunDir {
            path: dir.to_path_buf(),
            topology,
            summary: None,
            timeseries: None,
            load: None,
            hops: None,
            wire: None,
            requests: None,
            queue_ms: HashMap::new(),
            held_ms: HashMap::new(),
            chains: HashMap::new(),
            sweep: None,
            missing,
            prediction: None,
        };
        run.summary = run.attempt(summary::FILE, summary_p, |p| Ok(summary::read(p)?));
        run.timeseries = run.attempt(timeseries::FILE, ts_p, |p| {
            Ok(timeseries::read_by_service(p)?)
        });
        run.load = run.attempt(load_series::FILE, load_p, |p| Ok(load_series::read(p)?));
        run.requests = run.attempt(requests::FILE, requests_p, |p| Ok(requests::read(p)?));
        run.read_traces();
        let sweep_p = sweep_p.exists().then_some(dir.to_path_buf());
        run.sweep = run.attempt(sweep::CSV_FILE, sweep_p, |d| Ok(sweep::read(d)?));
        let predicted = dir.join(crate::versus::FOLDER);
        let predicted = predicted
            .join("topology.yaml")
            .exists()
            .then_some(predicted);
        run.prediction = run
            .attempt(crate::versus::FOLDER, predicted, RunDir::read)
            .map(Box::new);
        Ok(run)
    }

    /// The per-hop split and the sampled requests' queue waits, from the
    /// traces streamed once through the one trace reader (bounded memory
    /// however large `traces.jsonl` is).
    fn read_traces(&mut self) {
        let wanted: std::collections::HashSet<String> = self
            .requests
            .iter()
            .flatten()
            .filter_map(|r| r.trace_id.clone())
            .collect();
        let mut sums = hops::HopSums::default();
        let mut queue_ms = HashMap::new();
        let mut held_ms = HashMap::new();
        let mut chains = HashMap::new();
        let network = self.topology.network.in_use();
        let due: HashMap<&str, f64> = self
            .requests
            .iter()
            .flatten()
            .filter_map(|r| Some((r.trace_id.as_deref()?, r.t_s)))
            .collect();
        let mut wire = crate::links::WireSeries::default();
        let mut t0_ns: Option<u64> = None;
        let read = trace::for_each_trace(&self.path, |t| {
            t.spans.iter().for_each(|s| sums.add(s));
            if network {
                wire.add(&t);
                if t0_ns.is_none()
                    && let (Some(t_s), Some(first)) = (due.get(t.id.as_str()), t.spans.first())
                {
                    t0_ns = Some(first.start_ns.saturating_sub((t_s * 1e9) as u64));
                }
            }
            if wanted.contains(t.id.as_str()) {
                let ns: u64 = t
                    .spans
                    .iter()
                    .filter(|s| s.kind == Kind::Server)
                    .filter_map(|s| s.queue_ns)
                    .sum();
                *queue_ms.entry(t.id.clone()).or_insert(0.0) += ns as f64 / 1e6;
                let held: u64 = t
                    .spans
                    .iter()
                    .filter(|s| s.kind == Kind::Server)
                    .filter_map(|s| s.held_ns)
                    .sum();
                if held > 0 {
                    *held_ms.entry(t.id.clone()).or_insert(0.0) += held as f64 / 1e6;
                }
                // A trace read in two pieces (its spans far apart in the
                // file) keeps its larger piece.
                let chain = Chain::of(&t);
                if chains
                    .get(&t.id)
                    .is_none_or(|c: &Chain| c.0.len() < chain.0.len())
                {
                    chains.insert(t.id.clone(), chain);
                }
            }
        });
        match read {
            Ok(()) => {}
            Err(e @ TraceError::NoTraces(_)) => {
                self.missing.push(("traces".into(), e.to_string()));
                return;
            }
            Err(e) => {
                self.missing
                    .push(("traces".into(), format!("unreadable: {e}")));
                return;
            }
        }
        self.hops = Some(sums.finish());
        self.wire = t0_ns.map(|t0| wire.finish(t0));
        self.queue_ms = queue_ms;
        self.held_ms = held_ms;
        self.chains = chains;
    }

    fn attempt<T>(
        &mut self,
        file: &str,
        path: Option<PathBuf>,
        f: impl FnOnce(&Path) -> anyhow::Result<T>,
    ) -> Option<T> {
        match f(&path?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.missing
                    .push((file.to_string(), format!("unreadable: {e:#}")));
                None
            }
        }
    }
}
