//! `topolab import`: a topology inferred from traces. Files are read in any
//! of the formats [`read`] knows, spans assembled into traces in a bounded
//! window ([`assemble`]), each trace read as requests served and calls made
//! ([`trace`]), everything summed into counts and histograms ([`infer`]),
//! and the sums written as a commented topology ([`emit`]) that the model
//! validates before it is handed back, with a [`summary`] of what was
//! imported and what was left out.
//!
//! It reads files and writes text; it starts nothing.

pub mod assemble;
pub mod concurrency;
pub mod emit;
pub mod error;
pub mod fit;
pub mod infer;
pub mod names;
pub mod notes;
pub mod rate;
pub mod read;
pub mod shape;
pub mod summary;
pub mod trace;

use std::collections::BTreeMap;
use std::path::PathBuf;

use hdrhistogram::Histogram;
use topolab_results::trace::Span;

pub use error::ImportError;
pub use read::{Columns, Format};
pub use summary::Summary;

use assemble::{Assembler, Located};
use infer::Accumulator;
use notes::Notes;
use read::{Loc, Sink};

/// Default tolerance for clock skew between hosts when telling calls in
/// sequence from calls in parallel: two calls overlapping by less than
/// this are one after the other.
pub const DEFAULT_TOLERANCE_NS: u64 = 500_000;

/// How to import.
#[derive(Debug, Clone)]
pub struct Options {
    /// The format of every file, or `None` to detect each.
    pub format: Option<Format>,
    /// The topology's `name`.
    pub name: String,
    /// See [`DEFAULT_TOLERANCE_NS`].
    pub tolerance_ns: u64,
    /// Which CSV columns hold what.
    pub columns: Columns,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: None,
            name: "imported".into(),
            tolerance_ns: DEFAULT_TOLERANCE_NS,
            columns: Columns::default(),
        }
    }
}

/// An import's result: the topology's text (validated) and what happened.
#[derive(Debug, Clone)]
pub struct Imported {
    pub yaml: String,
    pub summary: Summary,
    /// Each endpoint's (`service/Endpoint`) self times as the spans show
    /// them, ns: what a round trip compares.
    pub self_times: BTreeMap<String, Histogram<u64>>,
}

/// Reads spans into traces and traces into sums.
struct Pipeline {
    assembler: Assembler,
    acc: Accumulator,
    notes: Notes,
    /// Per file, what its `topolab.work_ns` values are divided by (see
    /// [`lateness`]).
    late: Vec<f64>,
}

impl Pipeline {
    fn trace(acc: &mut Accumulator, notes: &mut Notes, spans: Vec<Located>) {
        acc.traces += 1;
        acc.spans += spans.len() as u64;
        let y = trace::analyse(spans, notes);
        for h in y.hops {
            acc.hop(h);
        }
        for inv in y.invocations {
            acc.invocation(inv);
        }
    }
}

impl Sink for Pipeline {
    fn span(&mut self, mut span: Span, at: Loc) {
        let late = self.late.get(at.file as usize).copied().unwrap_or(1.0);
        if late > 1.0 {
            span.work_ns = span.work_ns.map(|w| (w as f64 / late) as u64);
        }
        let (acc, notes) = (&mut self.acc, &mut self.notes);
        self.assembler
            .push(span, at, &mut |t| Pipeline::trace(acc, notes, t));
    }

    fn bad(&mut self, at: Loc, why: String) {
        self.notes.note(notes::Kind::BadLine, at, || why);
    }
}

/// For a topolab run folder's `traces.jsonl`: how much longer than asked
/// the run's `work` took on its machine (`summary.json`'s
/// `work_timing.work_late_pct`), as a factor. Its spans' `topolab.work_ns`
/// are divided by it, so the work written is what was asked, and a run of
/// the import on a busy machine does not stretch it twice. 1 for any other
/// file.
pub fn lateness(traces: &std::path::Path) -> f64 {
    let Some(summary) = traces.parent().map(|d| d.join("summary.json")) else {
        return 1.0;
    };
    std::fs::read(summary)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["work_timing"]["work_late_pct"].as_f64())
        .filter(|p| p.is_finite() && *p > 0.0)
        .map_or(1.0, |p| 1.0 + p / 100.0)
}

/// Imports `paths` into one topology.
pub fn import(paths: &[PathBuf], opts: &Options) -> Result<Imported, ImportError> {
    let mut p = Pipeline {
        assembler: Assembler::default(),
        acc: Accumulator::new(opts.tolerance_ns),
        notes: Notes::default(),
        late: paths.iter().map(|p| lateness(p)).collect(),
    };
    let mut formats = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let input = read::Input {
            file: i as u32,
            columns: &opts.columns,
        };
        formats.push(read::read(path, opts.format, &input, &mut p)?);
    }
    let (acc, notes) = (&mut p.acc, &mut p.notes);
    p.assembler.finish(&mut |t| Pipeline::trace(acc, notes, t));
    p.acc.finish();
    let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if p.acc.services.is_empty() && p.acc.untraced.is_empty() {
        let summary = Summary::new(
            &files,
            &formats,
            &p.acc,
            &p.notes,
            Default::default(),
            p.assembler.closed_early,
        );
        return Err(ImportError::Nothing {
            files: files.join(", "),
            details: summary.render(),
        });
    }
    let sources = files
        .iter()
        .zip(&formats)
        .map(|(f, fmt)| format!("{f} ({})", fmt.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let (yaml, written) = emit::emit(&p.acc, &names::service(&opts.name), &sources);
    if let Err(report) = topolab_model::load_str(&opts.name, &yaml, &[]) {
        return Err(ImportError::Invalid {
            report: report.to_string(),
            yaml,
        });
    }
    let summary = Summary::new(
        &files,
        &formats,
        &p.acc,
        &p.notes,
        written,
        p.assembler.closed_early,
    );
    let self_times = p
        .acc
        .services
        .iter()
        .flat_map(|(s, svc)| {
            svc.endpoints
                .iter()
                .map(move |(e, ep)| (format!("{s}/{e}"), ep.measured.clone()))
        })
        .collect();
    Ok(Imported {
        yaml,
        summary,
        self_times,
    })
}
