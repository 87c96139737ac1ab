//! `topolab run FILE --on swarm`: the run on a Docker Swarm (see
//! `topolab_deploy::swarm`); the driver in the stack prints the summary and
//! the run folder. Exit codes as `run`: 2 when the sandbox failed.

use std::process::ExitCode;

use topolab_deploy::swarm::{self, SwarmRun};
use topolab_model::Loaded;

use super::{EXIT_INVALID, EXIT_SANDBOX};
use crate::cli::RunArgs;
use topolab_predict::Simulated;

/// Runs `loaded` on the Swarm as `args` say; with `--predict`, `predicted`
/// is set beside what the run measured, as after a local run.
pub fn run(args: &RunArgs, loaded: &Loaded, predicted: Option<&Simulated>) -> ExitCode {
    if let Some(e) = args.otlp_endpoint.as_deref().filter(|e| on_loopback(e)) {
        eprintln!(
            "error: --otlp-endpoint {e} with --on swarm: a loopback address is each container's own, not this machine's; give one the containers reach (this machine's address on docker_gwbridge, with the collector listening there, or a name in the stack's network)"
        );
        return ExitCode::from(EXIT_INVALID);
    }
    let out = args.folder.out.clone().unwrap_or_else(|| {
        std::path::PathBuf::from("runs").join(format!(
            "{}-swarm-{}",
            loaded.topology.name,
            chrono_free_stamp()
        ))
    });
    let out = match std::path::absolute(&out) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the run folder {}: {e}", out.display());
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    let mut driver_flags = Vec::new();
    if args.quiet {
        driver_flags.push("--quiet".to_string());
    }
    if args.json {
        driver_flags.push("--json".to_string());
    }
    let run = SwarmRun {
        loaded,
        image: args.image.clone(),
        out: out.clone(),
        driver_flags,
        otlp_endpoint: args.otlp_endpoint.clone(),
        otlp_only: args.otlp_only,
    };
    match swarm::run(&run) {
        Ok(code) => {
            if let (0, Some(p)) = (code, predicted) {
                super::predict::after_run(&out, loaded, p, !args.json);
            }
            ExitCode::from(u8::try_from(code).unwrap_or(EXIT_SANDBOX))
        }
        Err(e) => {
            eprintln!("error: the sandbox failed: {e:#}");
            ExitCode::from(EXIT_SANDBOX)
        }
    }
}

/// Whether an endpoint URL names a loopback host (`localhost`, 127.0.0.0/8, `::1`).
fn on_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The guardian of a stack (`__swarm-guard`, started by `run --on swarm`).
pub fn guard(stack: &str) -> ExitCode {
    match topolab_deploy::guardian::watch(stack) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: removing stack {stack}: {e:#}");
            ExitCode::from(EXIT_SANDBOX)
        }
    }
}

/// Seconds since the epoch: unique enough for a default folder name.
fn chrono_free_stamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::on_loopback;

    #[test]
    fn loopback_endpoints_are_told_apart() {
        for url in [
            "http://127.0.0.1:4317",
            "http://localhost:4317",
            "http://[::1]:4317",
        ] {
            assert!(on_loopback(url), "{url}");
        }
        for url in [
            "http://172.18.0.1:4317",
            "http://otel:4317",
            "http://[fd00::1]:4317",
        ] {
            assert!(!on_loopback(url), "{url}");
        }
    }
}
