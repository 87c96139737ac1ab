//! `topolab report RUN_DIR`: (re)writes `report.html` from the files in a run
//! folder and prints its path; exit 1 with a clear message for a folder that
//! is not a run folder.

use std::path::Path;
use std::process::ExitCode;

use crate::out::outln;

/// Writes the report of `dir`.
pub fn report(dir: &Path) -> ExitCode {
    match topolab_results::report::write(dir) {
        Ok(path) => {
            outln!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
