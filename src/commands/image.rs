//! `topolab image [--tag REF]`: builds the container image from this very
//! executable (see `topolab_deploy::image`). Exit 0, or 2 with the reason.

use std::process::ExitCode;

use super::EXIT_SANDBOX;

/// Builds and tags the image; prints the tag and what went into it.
pub fn image(tag: &str) -> ExitCode {
    let binary = match std::env::current_exe() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot find this executable to put in the image: {e}");
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    match topolab_deploy::image::build(&binary, tag) {
        Ok(libs) => {
            eprintln!(
                "built FROM scratch: {} and {} librar{} it loads",
                binary.display(),
                libs.len(),
                if libs.len() == 1 { "y" } else { "ies" }
            );
            println!("{tag}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: image not built: {e}");
            ExitCode::from(EXIT_SANDBOX)
        }
    }
}
