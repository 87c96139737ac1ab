//! What one run (or prediction) left that the checks read: its summary, its
//! load series and the instants of its telemetry, through the same
//! `topolab_results` types the launcher writes them with.

use std::path::Path;

use topolab_results::load_series::{self, LoadRow};
use topolab_results::summary::{
    CallSummary, EndpointSummary, LoadSummary, ServiceSummary, Summary,
};

/// The figures of one run folder.
pub struct Figures {
    /// `summary.json`, through the type the launcher writes it with.
    pub summary: Summary,
    /// `load_timeseries.csv`, every row.
    pub load_rows: Vec<LoadRow>,
    /// The distinct `t_s` of `timeseries.csv`, in order.
    pub instants: Vec<f64>,
}

/// The fact a check needs, or why it is not there.
pub type Seen = Result<(), String>;

impl Figures {
    /// Reads `dir` (a run or prediction folder).
    pub fn read(dir: &Path) -> Figures {
        // Every read of a summary is checked as the other tests check it.
        crate::common::read_summary(dir);
        let summary = topolab_results::summary::read(&dir.join("summary.json"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let load_rows = load_series::read(&dir.join(load_series::FILE)).unwrap_or_default();
        let mut instants: Vec<f64> = topolab_results::timeseries::read(&dir.join("timeseries.csv"))
            .unwrap_or_default()
            .iter()
            .map(|r| r.t_s)
            .collect();
        instants.sort_by(f64::total_cmp);
        instants.dedup();
        Figures {
            summary,
            load_rows,
            instants,
        }
    }

    /// Figures that hold nothing at all: what a check must not call a tick.
    pub fn empty() -> Figures {
        let summary = serde_json::from_value(serde_json::json!({
            "topology": "nothing", "seed": 0, "duration_s": 0.0, "interrupted": false,
            "processes": 0, "healthy_after_ms": 0.0, "load": {}, "services": {},
            "cascade": {"detected": false, "text": "", "rule": "", "onsets": []},
            "faults": [],
        }))
        .expect("an empty summary reads");
        Figures {
            summary,
            load_rows: Vec::new(),
            instants: Vec::new(),
        }
    }

    /// The run's own evidence that the machine, not the topology, set its
    /// pace (other builds share these two cores): a generator sending over
    /// 20 ms late at p99, or `work` running over 25% long. Timings read by
    /// the checks mean little then.
    pub fn starved(&self) -> Option<String> {
        for (name, l) in &self.summary.load {
            if l.late_ms.p99 > 20.0 {
                return Some(format!("`{name}` sent {} ms late (p99)", l.late_ms.p99));
            }
        }
        let w = self.summary.work_timing.as_ref()?;
        (w.work_late_pct > 25.0).then(|| format!("work ran {}% long", w.work_late_pct))
    }

    /// The generator `name`.
    pub fn load(&self, name: &str) -> Result<&LoadSummary, String> {
        self.summary
            .load
            .get(name)
            .ok_or_else(|| format!("no generator `{name}` in the figures"))
    }

    /// The service `name`.
    pub fn service(&self, name: &str) -> Result<&ServiceSummary, String> {
        self.summary
            .services
            .get(name)
            .ok_or_else(|| format!("no service `{name}` in the figures"))
    }

    /// `service/endpoint` as its replicas counted it.
    pub fn endpoint(&self, service: &str, endpoint: &str) -> Result<&EndpointSummary, String> {
        self.service(service)?
            .endpoints
            .get(endpoint)
            .ok_or_else(|| format!("no endpoint `{service}/{endpoint}` in the figures"))
    }

    /// The calls `caller` made to `callee` (`service/Endpoint`).
    pub fn calls(&self, caller: &str, callee: &str) -> Result<&CallSummary, String> {
        self.service(caller)?
            .calls
            .get(callee)
            .ok_or_else(|| format!("`{caller}` made no calls to `{callee}`"))
    }

    /// `sent` per `load_timeseries.csv` interval of generator `name`,
    /// without its first and last (partial) intervals.
    pub fn sent_per_interval(&self, name: &str) -> Vec<f64> {
        let rows: Vec<f64> = self
            .load_rows
            .iter()
            .filter(|r| r.generator == name)
            .map(|r| r.sent as f64)
            .collect();
        if rows.len() < 3 {
            return Vec::new();
        }
        rows[1..rows.len() - 1].to_vec()
    }
}

/// `Ok` when `holds`, else `Err(why)`: the one shape of every check.
pub fn seen(holds: bool, why: impl FnOnce() -> String) -> Seen {
    if holds { Ok(()) } else { Err(why()) }
}
