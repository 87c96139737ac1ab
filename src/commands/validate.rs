//! `topolab validate FILE...`: every error of every file, located; exit 1 if
//! any file is invalid. Nothing is started.

use std::path::PathBuf;
use std::process::ExitCode;

use super::EXIT_INVALID;

use crate::out::outln;

/// Checks each file and reports all its errors and warnings.
pub fn validate(files: &[PathBuf]) -> ExitCode {
    let mut invalid = 0;
    for file in files {
        match topolab_model::load(file, &[]) {
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
