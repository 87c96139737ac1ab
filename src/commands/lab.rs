//! `topolab lab [FILE]`: runs the topology as `run` does, until stopped,
//! with the lab's page and API on loopback (the URL, with its session
//! token, printed first); on stop, the run folder as `run` writes it plus
//! `lab.yaml`, the session replayable with `topolab run`.

use std::io::Write;
use std::process::ExitCode;

use topolab_launcher::{RunOptions, table};
use topolab_model::Loaded;

use super::run::{Flags, failed, load_with_flags, machine_limits, replica_program};
use super::{EXIT_INVALID, EXIT_SANDBOX};
use crate::cli::LabArgs;
use crate::out::{out, outln};

/// The diner, for `topolab lab` without a file.
const DINER: &str = include_str!("../../topologies/diner.yaml");

/// Runs a lab session as the flags say.
pub fn lab(args: LabArgs) -> ExitCode {
    let limits = machine_limits(args.processes.max_processes);
    let (file, loaded) = match load(&args, limits.clone()) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{report}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let program = match replica_program() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot find the topolab executable to start replicas: {e}");
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    let session = topolab_lab::Session::new(topolab_lab::Setup {
        file,
        yaml: loaded.yaml.clone(),
        topology: loaded.topology.clone(),
        limits,
    });
    // Cannot be None: loading always pins a seed.
    let seed = loaded.topology.settings.seed.expect("seed pinned");
    let opts = RunOptions {
        out: args.folder.out.clone(),
        force: args.folder.force,
        seed,
        replica_command: (program, vec!["__serve".into()]),
        verbose: true,
        trace: topolab_collector::TraceOptions::default(),
        // A terminal gets the dashboard, with the core controls as keys.
        live: super::run::live_mode(false),
        steering: Some(session.steering(runtime.handle().clone())),
    };
    let ran = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            eprintln!(
                "warning: the lab listens on {addr}, beyond this machine: anyone who reaches it and has the token can drive it"
            );
        }
        let host = if addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", addr.port())
        } else {
            addr.to_string()
        };
        let url = format!("http://{host}/?token={}", session.token);
        outln!("lab: {url}");
        outln!("     (stop with Ctrl-C or the page's Stop button)");
        *session.url.lock() = Some(url);
        let _ = std::io::stdout().flush();
        tokio::spawn(topolab_lab::serve(listener, session.clone()));
        topolab_launcher::run(&loaded, opts).await
    });
    match ran {
        Ok(result) => {
            out!("{}", table::render(&result.summary));
            let end_s = result.summary.load_s.unwrap_or(result.summary.duration_s);
            let written = topolab_lab::replay::lab_yaml(
                &loaded.yaml,
                &loaded.topology,
                &session.actions(),
                end_s,
            )
            .map_err(anyhow::Error::from)
            .and_then(|y| Ok(std::fs::write(result.folder.join("lab.yaml"), y)?));
            if let Err(e) = written {
                eprintln!("warning: lab.yaml was not written: {e:#}");
            }
            outln!("\n{}", result.folder.display());
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

/// The topology with `--set` and `--seed`: the file's, or the diner's.
fn load(
    args: &LabArgs,
    limits: topolab_model::Limits,
) -> Result<(String, Loaded), topolab_model::Report> {
    match &args.file {
        Some(file) => {
            let flags = Flags {
                file,
                sets: &args.sets,
                duration: None,
                seed: args.seed,
                max_processes: args.processes.max_processes,
            };
            Ok((file.display().to_string(), load_with_flags(&flags)?))
        }
        None => {
            let mut sets = args.sets.clone();
            if let Some(seed) = args.seed {
                sets.push(format!("settings.seed={seed}"));
            }
            let loaded = topolab_model::load_str_with("diner.yaml", DINER, &sets, limits)?;
            Ok(("diner.yaml".into(), loaded))
        }
    }
}
