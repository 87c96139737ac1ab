//! `topolab trace RUN_DIR`: streams `traces.jsonl` and shows where the time
//! went, the slowest or failed chains, one chain as a waterfall, or writes a
//! Chrome trace-event file, or Jaeger's or Zipkin's JSON. Exit 0, or 1 with
//! a message for a bad folder or id.

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;

use topolab_results::trace::foreign::{self, Foreign};
use topolab_results::trace::{self, Span, Trace, breakdown::Breakdown, chrome, list, waterfall};

use crate::cli::{TraceArgs, TraceFormat};
use crate::out::{out, outln};

/// Exit status for a run folder (or trace id) that cannot be read.
const EXIT_BAD_FOLDER: u8 = 1;
/// Traces listed under the breakdown when no list was asked for.
const DEFAULT_SLOWEST: usize = 5;
/// Failed traces held for `--errors` (all are counted).
const MAX_LISTED_FAILED: usize = 1_000;
/// Traces a Chrome file of "all traces" may hold; beyond, the user picks.
const MAX_CHROME_TRACES: usize = 20_000;
/// Distinct ids matching an ambiguous `--id` prefix counted at most.
const MAX_COUNTED_MATCHES: usize = 10_000;

/// Runs `topolab trace` as the flags say.
pub fn trace(args: &TraceArgs) -> ExitCode {
    match show(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_FOLDER)
        }
    }
}

fn show(args: &TraceArgs) -> Result<(), String> {
    if let Some(id) = &args.id {
        let one = find(&args.run_dir, id)?;
        return match args.format {
            TraceFormat::Chrome => write_chrome(args, &[&one]),
            TraceFormat::Jaeger | TraceFormat::Zipkin => write_foreign(args, &[&one]),
            TraceFormat::Text => {
                out!("{}", waterfall::render(&one));
                Ok(())
            }
        };
    }
    let foreign_all = matches!(args.format, TraceFormat::Jaeger | TraceFormat::Zipkin)
        && args.slowest.is_none()
        && !args.errors;
    if foreign_all {
        return stream_foreign(args);
    }
    // One streaming pass gathers everything shown, in bounded memory.
    let chrome_all = args.format == TraceFormat::Chrome && args.slowest.is_none() && !args.errors;
    let mut count = 0u64;
    let mut run_start = u64::MAX;
    let mut breakdown = Breakdown::default();
    let mut slowest = list::Slowest::new(args.slowest.unwrap_or(DEFAULT_SLOWEST));
    let mut failed = list::Failed::new(MAX_LISTED_FAILED);
    let mut all = Vec::new();
    trace::for_each_trace(&args.run_dir, |t| {
        count += 1;
        run_start = run_start.min(t.start_ns());
        breakdown.add_trace(&t);
        slowest.add(&t);
        failed.add(&t);
        if chrome_all && all.len() < MAX_CHROME_TRACES {
            all.push(t);
        }
    })
    .map_err(|e| e.to_string())?;
    let run_start = if count == 0 { 0 } else { run_start };
    let failed_count = failed.count;
    let (slowest, failed) = (slowest.into_vec(), failed.into_vec());
    if args.format == TraceFormat::Chrome {
        if chrome_all && count > MAX_CHROME_TRACES as u64 {
            return Err(format!(
                "this run has {count} traces, more than the {MAX_CHROME_TRACES} a Chrome trace file shows usefully: pick some with --slowest N, --errors or --id TRACE"
            ));
        }
        all.sort_by_key(Trace::start_ns);
        let chosen: Vec<&Trace> = match (chrome_all, args.slowest) {
            (true, _) => all.iter().collect(),
            (false, Some(_)) => slowest.iter().collect(),
            (false, None) => failed.iter().collect(),
        };
        return write_chrome(args, &chosen);
    }
    if matches!(args.format, TraceFormat::Jaeger | TraceFormat::Zipkin) {
        let chosen: Vec<&Trace> = match args.slowest {
            Some(_) => slowest.iter().collect(),
            None => failed.iter().collect(),
        };
        return write_foreign(args, &chosen);
    }
    let mut listed = false;
    if let Some(n) = args.slowest {
        let title = format!("the {n} slowest of {count} traces");
        out!("{}", list::render(&title, &refs(&slowest), run_start));
        listed = true;
    }
    if args.errors {
        let mut title = format!("{failed_count} of {count} traces failed somewhere");
        if failed_count > failed.len() as u64 {
            title.push_str(&format!(" (the first {} listed)", failed.len()));
        }
        out!("{}", list::render(&title, &refs(&failed), run_start));
        listed = true;
    }
    if !listed {
        out!("{}", breakdown.render());
        outln!();
        let title = format!("the {DEFAULT_SLOWEST} slowest (see one with --id TRACE)");
        out!("{}", list::render(&title, &refs(&slowest), run_start));
    }
    Ok(())
}

fn refs(traces: &[Trace]) -> Vec<&Trace> {
    traces.iter().collect()
}

fn write_chrome(args: &TraceArgs, chosen: &[&Trace]) -> Result<(), String> {
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| args.run_dir.join("trace.chrome.json"));
    let json = chrome::render(chosen).to_string();
    std::fs::write(&path, json).map_err(|e| format!("writing {}: {e}", path.display()))?;
    outln!(
        "{} traces written for Perfetto (ui.perfetto.dev) to",
        chosen.len()
    );
    outln!("{}", path.display());
    Ok(())
}

/// Where a file format writes, and the form a foreign format takes.
fn foreign_target(args: &TraceArgs) -> (std::path::PathBuf, Foreign) {
    let (name, form) = match args.format {
        TraceFormat::Zipkin => ("trace.zipkin.json", Foreign::Zipkin),
        _ => ("trace.jaeger.json", Foreign::Jaeger),
    };
    let path = args.out.clone().unwrap_or_else(|| args.run_dir.join(name));
    (path, form)
}

/// The chosen traces as Jaeger's or Zipkin's JSON.
fn write_foreign(args: &TraceArgs, chosen: &[&Trace]) -> Result<(), String> {
    let (path, form) = foreign_target(args);
    let write = || -> std::io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut w = foreign::Writer::new(form, file)?;
        for t in chosen {
            w.trace(t)?;
        }
        w.finish().map(drop)
    };
    write().map_err(|e| format!("writing {}: {e}", path.display()))?;
    said_foreign(chosen.len() as u64, form, &path);
    Ok(())
}

/// Every trace of the run as Jaeger's or Zipkin's JSON, streamed: a trace
/// at a time, whatever the run's length.
fn stream_foreign(args: &TraceArgs) -> Result<(), String> {
    let (path, form) = foreign_target(args);
    let file =
        std::fs::File::create(&path).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let mut w = foreign::Writer::new(form, std::io::BufWriter::new(file))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    let mut count = 0u64;
    let mut failed = None;
    trace::for_each_trace(&args.run_dir, |t| {
        if failed.is_none() {
            match w.trace(&t) {
                Ok(()) => count += 1,
                Err(e) => failed = Some(e),
            }
        }
    })
    .map_err(|e| e.to_string())?;
    if let Some(e) = failed {
        return Err(format!("writing {}: {e}", path.display()));
    }
    w.finish()
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    said_foreign(count, form, &path);
    Ok(())
}

fn said_foreign(count: u64, form: Foreign, path: &Path) {
    let ui = match form {
        Foreign::Jaeger => "Jaeger's UI (Search, then Upload JSON)",
        Foreign::Zipkin => "Zipkin's UI (the upload button), or its POST /api/v2/spans",
    };
    outln!("{count} traces written for {ui} to");
    outln!("{}", path.display());
}

/// The trace whose id starts with `id` (case-insensitive); it must be unique.
/// Streams the file, holding only the spans of the first two ids that match.
fn find(run_dir: &Path, id: &str) -> Result<Trace, String> {
    let id = id.trim().to_ascii_lowercase();
    let mut matched: Vec<(String, Vec<Span>)> = Vec::new();
    let mut distinct = HashSet::new();
    trace::for_each_span(run_dir, |s| {
        if !s.trace_id.starts_with(&id) {
            return;
        }
        if distinct.len() < MAX_COUNTED_MATCHES {
            distinct.insert(s.trace_id.clone());
        }
        match matched.iter().position(|(t, _)| *t == s.trace_id) {
            Some(i) => matched[i].1.push(s),
            None if matched.len() < 2 => matched.push((s.trace_id.clone(), vec![s])),
            None => {}
        }
    })
    .map_err(|e| e.to_string())?;
    match matched.len() {
        0 => Err(format!(
            "no trace {id:?} in this run; list some with --slowest 10"
        )),
        1 => {
            let (tid, spans) = matched.pop().expect("one match");
            Ok(Trace::new(tid, spans))
        }
        _ => Err(format!(
            "{}{} traces start with {id:?}; give more of the id",
            if distinct.len() >= MAX_COUNTED_MATCHES {
                "at least "
            } else {
                ""
            },
            distinct.len()
        )),
    }
}
