//! `topolab trace RUN_DIR`: reads `traces.json` and shows where the time
//! went, the slowest or failed chains, one chain as a waterfall, or writes a
//! Chrome trace-event file. Exit 0, or 1 with a message for a bad folder or id.

use std::process::ExitCode;

use topolab_results::trace::{self, Trace, breakdown, chrome, list, waterfall};

use crate::cli::{TraceArgs, TraceFormat};
use crate::out::{out, outln};

/// Exit status for a run folder (or trace id) that cannot be read.
const EXIT_BAD_FOLDER: u8 = 1;
/// Traces listed under the breakdown when no list was asked for.
const DEFAULT_SLOWEST: usize = 5;

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
    let traces = trace::load(&args.run_dir).map_err(|e| e.to_string())?;
    let run_start = traces.iter().map(Trace::start_ns).min().unwrap_or(0);
    let picked: Option<Vec<&Trace>> = match (&args.id, args.slowest, args.errors) {
        (Some(id), _, _) => Some(vec![find(&traces, id)?]),
        (None, Some(n), _) => Some(list::slowest(&traces, n)),
        (None, None, true) => Some(list::failed(&traces)),
        (None, None, false) => None,
    };
    if args.format == TraceFormat::Chrome {
        let chosen = picked.unwrap_or_else(|| traces.iter().collect());
        let path = args
            .out
            .clone()
            .unwrap_or_else(|| args.run_dir.join("trace.chrome.json"));
        let json = chrome::render(&chosen).to_string();
        std::fs::write(&path, json).map_err(|e| format!("writing {}: {e}", path.display()))?;
        outln!(
            "{} traces written for Perfetto (ui.perfetto.dev) to",
            chosen.len()
        );
        outln!("{}", path.display());
        return Ok(());
    }
    if let Some(id) = &args.id {
        out!("{}", waterfall::render(find(&traces, id)?));
        return Ok(());
    }
    let mut listed = false;
    if let Some(n) = args.slowest {
        let title = format!("the {n} slowest of {} traces", traces.len());
        out!(
            "{}",
            list::render(&title, &list::slowest(&traces, n), run_start)
        );
        listed = true;
    }
    if args.errors {
        let failed = list::failed(&traces);
        let title = format!(
            "{} of {} traces failed somewhere",
            failed.len(),
            traces.len()
        );
        out!("{}", list::render(&title, &failed, run_start));
        listed = true;
    }
    if !listed {
        out!("{}", breakdown::render(&traces));
        outln!();
        let title = format!("the {DEFAULT_SLOWEST} slowest (see one with --id TRACE)");
        let slow = list::slowest(&traces, DEFAULT_SLOWEST);
        out!("{}", list::render(&title, &slow, run_start));
    }
    Ok(())
}

/// The trace whose id starts with `id` (case-insensitive); it must be unique.
fn find<'a>(traces: &'a [Trace], id: &str) -> Result<&'a Trace, String> {
    let id = id.trim().to_ascii_lowercase();
    let matches: Vec<&Trace> = traces.iter().filter(|t| t.id.starts_with(&id)).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no trace {id:?} in this run ({} traces); list some with --slowest 10",
            traces.len()
        )),
        many => Err(format!(
            "{} traces start with {id:?}; give more of the id",
            many.len()
        )),
    }
}
