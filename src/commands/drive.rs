//! `topolab drive FILE`: the load driver for replicas running elsewhere. It
//! finds them by DNS, runs the load and the faults, writes the run folder,
//! prints the summary like `run`, and optionally stays up (`--hold`) so the
//! folder can be fetched from its container. Exit as `run`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use topolab_deploy::engine::{Engine, SOCKET};
use topolab_fleet::faults::{Processes, Signal};
use topolab_fleet::supervisor::ReplicaId;
use topolab_launcher::drive::DriveOptions;
use topolab_launcher::table;
use topolab_model::Limits;
use topolab_services::discovery::Discovery;

use super::{EXIT_INVALID, EXIT_SANDBOX};
use crate::cli::DriveArgs;

/// Why a driver without `--stack` refuses `kill` and `pause` faults.
const NO_ENGINE: &str =
    "`drive` without `--stack` (as on Kubernetes) has no engine to signal the replicas";

/// Drives the load; see the module's doc.
pub fn drive(args: &DriveArgs) -> ExitCode {
    let limits = match &args.stack {
        Some(_) => Limits::FORMAT,
        None => Limits::FORMAT.without_signals(NO_ENGINE),
    };
    let loaded = match topolab_model::load_with(&args.file, &[], limits) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{report}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let hold = match args.hold.as_deref().map(topolab_model::values::duration) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            eprintln!("error: --hold: {}; expected {}", e.problem, e.expected);
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    let code = runtime.block_on(async {
        // First of all: a stop forwarded while the replicas are looked up
        // must not be lost (see `EarlySignals`).
        let signals = match topolab_launcher::interrupts::EarlySignals::new() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: the sandbox failed: {e:#}");
                return EXIT_SANDBOX;
            }
        };
        let t = &loaded.topology;
        let discovery = Discovery {
            name: args.peers_dns.clone(),
            port: args.port,
            every: Duration::from_secs(1),
        };
        let limit = Duration::from_secs(60) + Duration::from_millis(200) * t.process_count();
        let peers = match topolab_deploy::peers::find(t, &discovery, limit).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: the sandbox failed: {e:#}");
                return EXIT_SANDBOX;
            }
        };
        let processes: Arc<dyn Processes> = match &args.stack {
            Some(stack) => {
                let engine = Engine::new(SOCKET, stack);
                let targets: Vec<&str> =
                    t.faults.iter().map(|f| f.target.service.as_str()).collect();
                if let Err(e) = engine.prepare(&targets).await {
                    eprintln!("error: the sandbox failed: the Docker Engine at {SOCKET}: {e:#}");
                    return EXIT_SANDBOX;
                }
                Arc::new(engine)
            }
            None => Arc::new(NoEngine),
        };
        let opts = DriveOptions {
            out: args.out.clone(),
            seed: t.settings.seed.unwrap_or_else(rand::random),
            verbose: !args.quiet,
            processes,
            health_limit: limit,
            collector_listen: args.collector_listen,
            outside: topolab_collector::TraceOptions {
                otlp_endpoint: args.otlp_endpoint.clone(),
                otlp_only: args.otlp_only,
                listen: None,
            },
            signals,
            discovery: Some(discovery.clone()),
        };
        match topolab_launcher::drive::drive(&loaded, peers, opts).await {
            Ok(result) => {
                if args.json {
                    match serde_json::to_string_pretty(&result.summary) {
                        Ok(json) => println!("{json}"),
                        Err(e) => eprintln!("error: the summary as JSON: {e}"),
                    }
                    eprintln!("{}", result.folder.display());
                } else {
                    print!("{}", table::render(&result.summary));
                    println!("\n{}", result.folder.display());
                }
                if let Some(d) = hold {
                    eprintln!("holding the run folder for {d:?} (Ctrl-C ends it)");
                    tokio::select! {
                        () = tokio::time::sleep(d) => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                0
            }
            Err(e) => {
                eprintln!("error: the sandbox failed: {e:#}");
                EXIT_SANDBOX
            }
        }
    });
    ExitCode::from(code)
}

/// Replicas this driver cannot signal (no engine named). Never asked to:
/// validation refused `kill` and `pause` faults by name and place
/// ([`NO_ENGINE`]) before anything started; were it asked, it reaches none.
struct NoEngine;

impl Processes for NoEngine {
    fn signal<'a>(
        &'a self,
        _: &'a str,
        _: Option<u32>,
        _: Signal,
    ) -> BoxFuture<'a, Vec<ReplicaId>> {
        Box::pin(std::future::ready(Vec::new()))
    }
}
