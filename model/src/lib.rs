//! The topology model: YAML text → a located tree → validated, checked
//! [`Topology`]. Everything a user can get wrong is caught here, with file,
//! line and column, before any process starts.
//!
//! It reads and checks files; it starts nothing, measures nothing and does no
//! I/O but reading the topology it is given.

pub mod calls;
mod check;
pub mod defaults;
pub mod diagnostic;
pub mod dist;
pub mod emit;
pub mod fault;
mod indentation;
pub mod model;
pub mod network;
mod overrides;
pub mod policy;
pub mod schema;
pub mod seed;
pub mod service_kind;
pub mod shape;
pub mod status;
pub mod tree;
pub mod updates;
pub mod values;

#[cfg(test)]
mod tests;

pub use defaults::{
    DEFAULT_BALANCER_WORKERS, DEFAULT_BREAKER, DEFAULT_CALL_TIMEOUT, DEFAULT_GENERATOR_TIMEOUT,
    DEFAULT_QUEUE, DEFAULT_RETRY_BUDGET, DEFAULT_SAMPLE_EVERY, DEFAULT_TRACE, DEFAULT_TRACE_BUDGET,
    FORWARD_TIMEOUT,
};
pub use dist::Dist;
pub use fault::*;
pub use model::*;
pub use network::{Link, LinkEnd, LinkFault, LinkShape, Network};
pub use policy::*;
pub use service_kind::*;
pub use status::StatusCode;
pub use updates::{Follow, Timeline};

use diagnostic::{Diag, Severity};

/// Highest total open-loop rate (requests per second over all generators) one
/// run may ask of this machine's load generator.
pub const MAX_TOTAL_RATE: f64 = 50_000.0;

/// What a topology may ask of where it runs, checked by validation with the
/// limit named in the error: the sizes it may reach, and whether its
/// replicas can be signalled. A local run's process limit is this machine's,
/// probed at run time (`topolab_fleet::capacity`) and built with
/// [`Limits::machine`]; a file that starts nothing here (a graph, an export,
/// containers) is held only to [`Limits::FORMAT`]; a simulation's are
/// [`Limits::SIMULATION`], since no process is started. Replicas nobody can
/// signal are [`Limits::without_signals`].
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Replicas in all (processes, for a run).
    pub processes: u32,
    /// Total open-loop rate, requests per second over all generators.
    pub total_rate: f64,
    /// How to mend a topology over `processes`: for a run, which resource
    /// of the machine sets the limit, with its numbers.
    pub processes_help: std::borrow::Cow<'static, str>,
    /// Why `kill` and `pause` faults cannot be carried out where this
    /// topology runs (`None`: they can), so that they are refused at
    /// validation, by name and place, before anything starts, rather than
    /// skipped with a warning once the run is under way.
    pub no_signals: Option<&'static str>,
}

impl Limits {
    /// What a topology file may ask when it starts nothing on this machine
    /// (`graph`, `export`, `drive` against containers): bounded by what one
    /// load generator sends, not by local processes.
    pub const FORMAT: Limits = Limits {
        processes: 1_000_000,
        total_rate: MAX_TOTAL_RATE,
        processes_help: std::borrow::Cow::Borrowed("lower `replicas`"),
        no_signals: None,
    };
    /// What `predict` simulates: bounded by memory and patience, not processes.
    pub const SIMULATION: Limits = Limits {
        processes: 1_000_000,
        total_rate: 10_000_000.0,
        processes_help: std::borrow::Cow::Borrowed(
            "lower `replicas`: the simulator keeps every replica's state in memory",
        ),
        no_signals: None,
    };

    /// What `run` can start on this machine: `processes` from its probed
    /// resources, `help` naming the resource that binds and how to mend it.
    pub fn machine(processes: u32, help: String) -> Limits {
        Limits {
            processes,
            total_rate: MAX_TOTAL_RATE,
            processes_help: std::borrow::Cow::Owned(help),
            no_signals: None,
        }
    }

    /// These limits where no replica can be killed or paused, `why` saying
    /// what runs them (replicas found by DNS with no engine named, as on
    /// Kubernetes): `kill` and `pause` faults are then errors.
    pub fn without_signals(self, why: &'static str) -> Limits {
        Limits {
            no_signals: Some(why),
            ..self
        }
    }
}

/// A topology that passed validation, with the YAML text as it will run.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub topology: Topology,
    /// The topology as run: the file's text with `--set` overrides applied.
    pub yaml: String,
    /// Things that are legal but probably not what the user meant.
    pub warnings: Vec<String>,
}

/// Every error found in a topology, each rendered with file:line:col, the
/// offending line, what is wrong and how to mend it.
#[derive(Debug, Clone)]
pub struct Report {
    pub errors: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.errors {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

/// One override and the flag the user typed that asked for it, which the
/// notes on whatever it wrote name: `--set K=V` is its own flag, while
/// `--duration 10s` stands for several overrides the user never wrote.
#[derive(Debug, Clone)]
pub struct Override {
    /// `KEY.PATH=VALUE`, as `--set` takes it.
    pub set: String,
    /// The flag as typed, e.g. `--duration 10s`.
    pub flag: String,
}

impl Override {
    /// The override of `--set KEY.PATH=VALUE`.
    pub fn set(kv: &str) -> Override {
        Override {
            set: kv.to_string(),
            flag: format!("--set {kv}"),
        }
    }
}

/// Each `--set KEY.PATH=VALUE` as its own flag.
fn from_sets(sets: &[String]) -> Vec<Override> {
    sets.iter().map(|s| Override::set(s)).collect()
}

/// Reads, parses and validates a topology file, applying `--set KEY=VALUE`
/// overrides (YAML paths written with dots) before validation.
pub fn load(path: &std::path::Path, overrides: &[String]) -> Result<Loaded, Report> {
    load_with(path, overrides, Limits::FORMAT)
}

/// As [`load`], within `limits` instead of this machine's (a simulation's).
pub fn load_with(
    path: &std::path::Path,
    overrides: &[String],
    limits: Limits,
) -> Result<Loaded, Report> {
    load_overridden(path, &from_sets(overrides), limits)
}

/// As [`load_with`], with overrides that other flags stand for.
pub fn load_overridden(
    path: &std::path::Path,
    overrides: &[Override],
    limits: Limits,
) -> Result<Loaded, Report> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_text(&file, &text, overrides, limits),
        Err(e) => Err(Report {
            errors: vec![Diag::unplaced(format!("cannot read `{file}`: {e}")).render(&file, "")],
        }),
    }
}

/// As [`load`], for text that did not come from a file; `file` names it in errors.
pub fn load_str(file: &str, text: &str, overrides: &[String]) -> Result<Loaded, Report> {
    load_str_with(file, text, overrides, Limits::FORMAT)
}

/// As [`load_str`], within `limits`.
pub fn load_str_with(
    file: &str,
    text: &str,
    overrides: &[String],
    limits: Limits,
) -> Result<Loaded, Report> {
    load_text(file, text, &from_sets(overrides), limits)
}

fn load_text(
    file: &str,
    text: &str,
    overrides: &[Override],
    limits: Limits,
) -> Result<Loaded, Report> {
    let mut tree = match tree::parse(text) {
        Ok(tree) => tree,
        Err(e) => {
            let d = indentation::explain(text, &e)
                .unwrap_or_else(|| Diag::error(format!("invalid YAML: {}", e.message), e.loc));
            return Err(Report {
                errors: vec![d.render(file, text)],
            });
        }
    };
    let mut diags = overrides::apply(&mut tree, overrides);
    let (topology, found) = check::check(&tree, limits);
    diags.extend(found);
    let render = |sev: Severity| -> Vec<String> {
        diags
            .iter()
            .filter(|d| d.severity == sev)
            .map(|d| d.render(file, text))
            .collect()
    };
    let errors = render(Severity::Error);
    match topology {
        Some(topology) if errors.is_empty() => {
            let yaml = if overrides.is_empty() {
                text.to_string()
            } else {
                emit::emit(&tree.value)
            };
            Ok(Loaded {
                topology,
                yaml,
                warnings: render(Severity::Warning),
            })
        }
        _ => Err(Report { errors }),
    }
}
