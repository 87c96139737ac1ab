//! `topolab __serve`: this process becomes one replica. The launcher writes the
//! replica's configuration to stdin and passes its bound listener as fd 3.

use std::io::Read;
use std::os::fd::FromRawFd;
use std::process::ExitCode;

use topolab_fleet::supervisor::LISTEN_FD;
use topolab_services::ReplicaSpec;

/// Serves until told to stop; exit 2 if the configuration is unusable.
pub fn serve() -> ExitCode {
    match serve_inner() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replica failed: {e:#}");
            ExitCode::from(super::EXIT_SANDBOX)
        }
    }
}

fn serve_inner() -> anyhow::Result<()> {
    let mut json = String::new();
    std::io::stdin().read_to_string(&mut json)?;
    let spec: ReplicaSpec = serde_json::from_str(&json)?;
    // SAFETY: the launcher put a bound, listening TCP socket at LISTEN_FD and
    // nothing else in this process owns that descriptor.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(LISTEN_FD) };
    anyhow::ensure!(
        listener.local_addr().is_ok(),
        "fd {LISTEN_FD} is not a listening socket: start replicas with `topolab run`"
    );
    topolab_services::run_process(spec, listener)
}
