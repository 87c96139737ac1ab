//! The command line, as clap reads it. The commands and their flags are the
//! contract in `cli-and-outputs.md`; keep them in step with it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod readers;
pub use readers::{CompareArgs, ImportArgs, ImportFormat, TraceArgs, TraceFormat};

/// Run microservice topologies as real gRPC processes, under load, and see
/// where the time goes.
#[derive(Debug, Parser)]
#[command(name = "topolab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// topolab's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check topology files; prints every error with file:line:col.
    Validate {
        /// Topology files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Hold the files to this process limit instead of this machine's
        /// (as `run --max-processes`).
        #[arg(long, value_name = "N", env = "TOPOLAB_MAX_PROCESSES")]
        max_processes: Option<u32>,
    },
    /// Start every replica as its own gRPC process, send the load, and write a run folder.
    Run(RunArgs),
    /// Read a run's traces: where the time went, the slowest or failed
    /// request chains, one chain as a waterfall, or a Perfetto file.
    Trace(TraceArgs),
    /// Write report.html for a run folder (run does this itself too).
    Report {
        /// The run folder.
        run_dir: PathBuf,
    },
    /// Run the topology once per value of one parameter and draw throughput
    /// and latency against offered load, marking the knee.
    Sweep(SweepArgs),
    /// Start the services (no load) and keep them up for outside clients until Ctrl-C.
    Up(UpArgs),
    /// Simulate the topology (no process starts) and write a run folder of
    /// the same shape, marked as a prediction, with utilisation, the
    /// bottleneck, the capacity and the predicted cascade.
    Predict(PredictArgs),
    /// Compare two run folders (runs or predictions) figure by figure;
    /// `--fail-if` turns it into a gate (exit 3 when one holds).
    Compare(CompareArgs),
    /// Print the topology as a graph: services, endpoints, calls and load.
    Graph {
        /// The topology file.
        file: PathBuf,
        /// `dot` (Graphviz) or `mermaid`.
        #[arg(long, default_value = "dot")]
        format: GraphFormat,
    },
    /// Print a JSON Schema of the topology format, for editors.
    Schema,
    /// Build the container image that `export` and `run --on swarm` use, from
    /// this binary and the libraries it loads (FROM scratch, no network).
    Image {
        /// The image reference to tag.
        #[arg(long, default_value = topolab_deploy::DEFAULT_IMAGE)]
        tag: String,
    },
    /// Write what runs the topology elsewhere: a compose file for `docker
    /// stack deploy`, or Kubernetes manifests.
    Export(ExportArgs),
    /// Send the load to replicas already running elsewhere (found by DNS),
    /// apply the faults, and write the run folder: the load driver inside a
    /// Swarm stack's network or a Kubernetes Job.
    Drive(DriveArgs),
    /// Write a run folder as a tar stream on stdout, to copy it out of a
    /// container that has no `tar` (the Kubernetes Job's pod).
    Pack {
        /// The folder.
        dir: PathBuf,
    },
    /// Serve as one replica anywhere (a container, a shell): the topology from
    /// a file, the rest from flags or TOPOLAB_* environment variables, callees
    /// found by DNS.
    Replica(ReplicaArgs),
    /// Run the topology (the diner without FILE) until stopped, with a live
    /// page on loopback whose controls change it while it runs; on stop,
    /// write the run folder and `lab.yaml`, the session as a replayable topology.
    Lab(LabArgs),
    /// Infer a topology from traces (OTLP, Jaeger, Zipkin, CSV): services,
    /// endpoints, calls, fitted work, errors and load, written as a
    /// commented topology file.
    Import(ImportArgs),
    /// Serve as one replica (started by `run`; reads its configuration on stdin).
    #[command(name = "__serve", hide = true)]
    Serve,
    /// Remove a Swarm stack if the `run --on swarm` that started this
    /// guardian dies without saying `done` on stdin.
    #[command(name = topolab_deploy::guardian::COMMAND, hide = true)]
    SwarmGuard {
        /// The stack to remove.
        stack: String,
    },
}

/// The topology a command reads: its file, and values changed on the command
/// line (run, sweep, predict, up).
#[derive(Debug, clap::Args)]
pub struct TopologyArgs {
    /// The topology file.
    pub file: PathBuf,
    /// Change one value, with its YAML path written with dots:
    /// --set load.customers.rate=8/s (a sweep changes it in every step).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// The folder a command leaves behind (run, sweep, predict, up).
#[derive(Debug, clap::Args)]
pub struct FolderArgs {
    /// The folder (default: runs/<name>-<YYYYMMDD-HHMMSS>, with `-sweep` or
    /// `-predict` after the name for those).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Empty a non-empty --out folder first (without it such a folder is refused).
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// How many replica processes a command may start (run, sweep, up).
#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    /// Most replica processes to start: by default this machine's limit,
    /// probed from its memory, threads, file descriptors and ports; a higher
    /// N is at your own risk.
    #[arg(long, value_name = "N", env = "TOPOLAB_MAX_PROCESSES")]
    pub max_processes: Option<u32>,
}

/// Flags of `topolab run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub topology: TopologyArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Make the whole load last this long, e.g. 10s: every generator's
    /// start and duration and every fault's at and for scale with it.
    #[arg(long)]
    pub duration: Option<String>,
    /// The seed for sampled durations, arrivals and choices.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub processes: ProcessArgs,
    /// Print only the summary and the run folder.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also send every span to this OTLP/gRPC collector (Jaeger, Tempo, an
    /// OpenTelemetry Collector), e.g. http://127.0.0.1:4317.
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Send spans only to --otlp-endpoint: no built-in collector, no traces.jsonl.
    #[arg(long, requires = "otlp_endpoint")]
    pub otlp_only: bool,
    /// Print the summary as JSON on stdout and nothing else there (the run
    /// folder goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Where the replicas run: `local` processes, or containers of a Docker
    /// `swarm` stack (the node must be a Swarm manager).
    #[arg(long, value_enum, default_value_t = Platform::Local)]
    pub on: Platform,
    /// With `--on swarm`: the image to build and run.
    #[arg(long, default_value = topolab_deploy::DEFAULT_IMAGE)]
    pub image: String,
    /// Predict the same topology first (same seed, simulated), keep the
    /// prediction in RUN/prediction/, and show predicted beside measured,
    /// flagging what lies outside the prediction's own noise.
    #[arg(long)]
    pub predict: bool,
    /// With --predict: the cost of one gRPC hop (round trip), e.g. 400us;
    /// default: the cached probe (or a fresh one).
    #[arg(long, value_name = "DURATION", requires = "predict")]
    pub hop_cost: Option<String>,
    /// With --predict: measure the hop cost again instead of using the cache.
    #[arg(long, requires = "predict", conflicts_with = "hop_cost")]
    pub reprobe: bool,
}

/// Flags of `topolab lab`.
#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// The topology file (default: the diner).
    pub file: Option<PathBuf>,
    /// Change one value before starting, as `run --set` does.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Where the page listens; a non-loopback address is warned about (the
    /// token is still required).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// The seed for sampled durations, arrivals and choices.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub processes: ProcessArgs,
}

/// Where `run` starts the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    Local,
    Swarm,
}

/// Flags of `topolab drive`.
#[derive(Debug, clap::Args)]
pub struct DriveArgs {
    /// The topology file, as the replicas run it.
    pub file: PathBuf,
    /// The DNS name listing a service's replicas, `{service}` standing for
    /// its name: `tasks.{service}` on Swarm, `{service}` on Kubernetes.
    #[arg(long, default_value = "tasks.{service}")]
    pub peers_dns: String,
    /// The port every replica listens on.
    #[arg(long, default_value_t = topolab_deploy::container::GRPC_PORT)]
    pub port: u16,
    /// The Swarm stack the replicas belong to: `kill` and `pause` faults act
    /// on its containers through the Docker Engine's socket.
    #[arg(long)]
    pub stack: Option<String>,
    /// Where the run's span collector listens so that the replicas can send
    /// their spans to traces.jsonl (e.g. 0.0.0.0:4317 in the stack's network;
    /// the replicas get its address through TOPOLAB_OTLP_ENDPOINTS). Without
    /// it the collector is on loopback and holds the load's spans only.
    #[arg(long, value_name = "ADDR")]
    pub collector_listen: Option<std::net::SocketAddr>,
    /// Also send the load's spans to this OTLP/gRPC collector (the replicas
    /// are told it through TOPOLAB_OTLP_ENDPOINTS).
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Send spans only to --otlp-endpoint: no built-in collector, no traces.jsonl.
    #[arg(long, requires = "otlp_endpoint")]
    pub otlp_only: bool,
    /// The run folder (default: runs/<name>-<YYYYMMDD-HHMMSS>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep running this long after writing the folder, so it can be
    /// fetched from the container (e.g. 1h).
    #[arg(long)]
    pub hold: Option<String>,
    /// Print only the summary and the run folder.
    #[arg(long, short)]
    pub quiet: bool,
    /// The summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `topolab sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub topology: TopologyArgs,
    /// The parameter and its range, with its YAML path written with dots:
    /// --vary load.customers.rate=1/s..12/s, or load.users.clients=1..32
    #[arg(long, value_name = "KEY=FROM..TO")]
    pub vary: String,
    /// How many values, evenly spaced from FROM to TO.
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
    /// The knee's latency goal: a p99 like 500ms, or a multiple of the
    /// lightest step's p99 like 5x.
    #[arg(long, default_value = "5x", value_name = "DURATION|FACTOR")]
    pub goal_p99: String,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Make the whole load of every step last this long (as `run --duration`).
    #[arg(long)]
    pub duration: Option<String>,
    /// The seed, the same for every step (drawn once when not given).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub processes: ProcessArgs,
    /// Print only the table, the knee and the sweep folder.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not simulate the steps (by default each is predicted too, in
    /// milliseconds, and sweep.html draws the predicted curve and capacity).
    #[arg(long)]
    pub no_predict: bool,
    /// The cost of one gRPC hop for the predicted curve, e.g. 400us;
    /// default: the cached probe (or a fresh one).
    #[arg(long, value_name = "DURATION", conflicts_with = "no_predict")]
    pub hop_cost: Option<String>,
}

/// Flags of `topolab predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub topology: TopologyArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Override the duration of every load generator, e.g. 10s.
    #[arg(long)]
    pub duration: Option<String>,
    /// The seed for sampled durations, arrivals and choices.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The cost of one gRPC hop (round trip), e.g. 400us; default: measured
    /// on this machine by a short probe, cached.
    #[arg(long, value_name = "DURATION")]
    pub hop_cost: Option<String>,
    /// Measure the hop cost again instead of using the cached probe.
    #[arg(long, conflicts_with = "hop_cost")]
    pub reprobe: bool,
    /// Print the summary as JSON on stdout and nothing else there.
    #[arg(long)]
    pub json: bool,
    /// Print only the summary and the folder.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Flags of `topolab up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub topology: TopologyArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// The seed for sampled durations and choices.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub processes: ProcessArgs,
}

/// What `topolab export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportTarget {
    Compose,
    Kubernetes,
}

/// Flags of `topolab export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// `compose` (a Docker stack) or `kubernetes` (manifests).
    #[arg(value_enum)]
    pub target: ExportTarget,
    /// The topology file.
    pub file: PathBuf,
    /// The image every container runs (build it with `topolab image`).
    #[arg(long, default_value = topolab_deploy::DEFAULT_IMAGE)]
    pub image: String,
    /// The folder to write into (default: export-<name>-<target>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Change one value, with its YAML path written with dots.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// Flags of `topolab replica`; each may come from the environment instead.
#[derive(Debug, clap::Args)]
pub struct ReplicaArgs {
    /// The topology file (a ConfigMap or Swarm config mounted in the container).
    #[arg(long, env = "TOPOLAB_TOPOLOGY")]
    pub topology: PathBuf,
    /// The service this replica belongs to.
    #[arg(long, env = "TOPOLAB_SERVICE")]
    pub service: String,
    /// This replica's index, 0-based (`service#index`).
    #[arg(long, env = "TOPOLAB_INDEX", conflicts_with = "slot")]
    pub index: Option<u32>,
    /// This replica's 1-based slot (Swarm's `{{.Task.Slot}}`): index = slot - 1.
    #[arg(long, env = "TOPOLAB_SLOT")]
    pub slot: Option<u32>,
    /// Where to serve gRPC: loopback by default, 0.0.0.0:PORT in a container.
    #[arg(long, env = "TOPOLAB_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: std::net::SocketAddr,
    /// Where to serve Prometheus /metrics (default: the listen host, port 9464).
    #[arg(long, env = "TOPOLAB_METRICS_LISTEN")]
    pub metrics: Option<String>,
    /// The DNS name listing a callee's replicas, `{service}` standing for its
    /// name: `tasks.{service}` on Swarm, `{service}` for a headless Service.
    #[arg(long, env = "TOPOLAB_PEERS_DNS", default_value = "tasks.{service}")]
    pub peers_dns: String,
    /// How often callees' names are resolved again, e.g. 1s.
    #[arg(long, env = "TOPOLAB_RESOLVE_EVERY", default_value = "1s")]
    pub resolve_every: String,
    /// The seed (default: the topology's `settings.seed`, else 0).
    #[arg(long, env = "TOPOLAB_SEED")]
    pub seed: Option<u64>,
    /// OTLP/gRPC collectors to send spans to (none: this replica records none).
    #[arg(
        long = "otlp-endpoint",
        env = "TOPOLAB_OTLP_ENDPOINTS",
        value_delimiter = ','
    )]
    pub otlp_endpoints: Vec<String>,
}

/// Output formats of `topolab graph`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}
