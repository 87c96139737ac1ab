//! `topolab validate FILE...`: every error of every file, located; exit 1 if
//! any file is invalid. Nothing is started.

use std::path::PathBuf;
use std::process::ExitCode;

use super::EXIT_INVALID;

use crate::out::outln;

/// Checks each file and reports all its errors and warnings, holding it to
/// the process limit `run` would (this machine's, or `max_processes`).
pub fn validate(files: &[PathBuf], max_processes: Option<u32>) -> ExitCode {
    let mut invalid = 0;
    let limits = super::run::machine_limits(max_processes);
    for file in files {
        match topolab_model::load_with(file, &[], limits.clone()) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    eprintln!("{w}");
                }
                let t = &loaded.topology;
                outln!(
                    "{}: valid ({} service(s), {} process(es), {} load generator(s))",
                    file.display(),
                    t.services.len(),
                    t.process_count(),
                    t.load.len()
                );
            }
            Err(report) => {
                invalid += 1;
                eprint!("{report}");
                let n = report.errors.len();
                eprintln!(
                    "{}: {n} error{}",
                    file.display(),
                    if n == 1 { "" } else { "s" }
                );
            }
        }
    }
    if invalid > 0 {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    }
}
