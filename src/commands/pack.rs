//! `topolab pack DIR`: the folder as a tar stream on stdout, so a run folder
//! can leave a container that has no `tar` of its own:
//! `kubectl exec job/load -- /topolab pack /runs/run | tar -x`.

use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_INVALID, EXIT_SANDBOX};

/// Writes `dir` (named by its last component) as a tar archive on stdout.
pub fn pack(dir: &Path) -> ExitCode {
    if !dir.is_dir() {
        eprintln!("error: {} is not a folder", dir.display());
        return ExitCode::from(EXIT_INVALID);
    }
    let name = dir
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_os_string());
    let mut archive = tar::Builder::new(std::io::stdout().lock());
    let written = archive
        .append_dir_all(&name, dir)
        .and_then(|()| archive.finish());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: packing {}: {e}", dir.display());
            ExitCode::from(EXIT_SANDBOX)
        }
    }
}
