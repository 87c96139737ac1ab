//! Shared helpers for the integration tests: run the real `topolab` binary on a
//! small topology in a temporary folder, read what it left (every
//! `summary.json` read is checked by [`accounting`]), and find any process
//! of the run that is still alive (each run is marked by an environment
//! variable its replicas inherit).

// Each test binary uses some of these helpers, and re-exports, not all.
#![allow(dead_code, unused_imports)]

pub mod accounting;
pub mod browser;
pub mod lab;
pub mod otlp;
pub mod peers;
pub mod scores;
pub mod swarm;
pub mod tolerance;
pub mod trees;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Pid;
pub use rustix::process::Signal;
use serde_json::Value;

pub use accounting::assert_counts_add_up;
pub use peers::require_peer;
pub use tolerance::assert_binomial;

/// A temporary folder holding one test's topology and run folder.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Unique value of `TOPOLAB_TEST_MARK` for every process this sandbox starts.
    pub mark: String,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mark = format!("{}-{}", std::process::id(), dir.path().display());
        Sandbox { dir, mark }
    }

    /// Writes `yaml` as `name` in the sandbox and returns its path.
    pub fn file(&self, name: &str, yaml: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, yaml).expect("write topology");
        p
    }

    /// The run folder used by [`Sandbox::run`].
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `topolab ARGS` with this sandbox's mark, from the repository root.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_topolab"));
        cmd.args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("TOPOLAB_TEST_MARK", &self.mark);
        cmd
    }

    /// `topolab run FILE --out <sandbox>/run ARGS`, to completion.
    pub fn run(&self, file: &Path, args: &[&str]) -> Output {
        let out = self.out();
        let mut all = vec![
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let output = self.command(&all).output().expect("run topolab");
        if !output.status.success() {
            eprintln!("stdout:\n{}", String::from_utf8_lossy(&output.stdout));
            eprintln!("stderr:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        output
    }

    /// Runs `yaml` and returns its summary.json; panics if the run failed.
    pub fn run_yaml(&self, yaml: &str, args: &[&str]) -> Value {
        let file = self.file("topology.yaml", yaml);
        let output = self.run(&file, args);
        assert!(
            output.status.success(),
            "topolab run failed: {:?}",
            output.status
        );
        self.summary()
    }

    /// The run folder's summary.json (see [`read_summary`]).
    pub fn summary(&self) -> Value {
        read_summary(&self.out())
    }

    /// Starts `topolab ARGS` in the background with piped stderr.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn topolab")
    }

    /// Starts `topolab COMMAND FILE --out <sandbox>/run` in the background
    /// (`run` or `up`), stderr piped for [`wait_for_line`].
    pub fn spawn_on(&self, command: &str, file: &Path) -> Child {
        let out = self.out();
        self.spawn(&[
            command,
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    }

    /// Pids of live (non-zombie) processes carrying this sandbox's mark.
    pub fn live_processes(&self) -> Vec<u32> {
        let needle = format!("TOPOLAB_TEST_MARK={}", self.mark);
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(env) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            let marked = env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes());
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'));
            if marked && !zombie {
                pids.push(pid);
            }
        }
        pids
    }

    /// Waits up to `limit` for every marked process to be gone.
    pub fn wait_all_gone(&self, limit: Duration) -> Vec<u32> {
        let until = Instant::now() + limit;
        loop {
            let live = self.live_processes();
            if live.is_empty() || Instant::now() > until {
                return live;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `dir/summary.json`, read the one way every test reads it: checked that
/// a run not interrupted left no request unended
/// ([`accounting::assert_nothing_cut_short`]).
pub fn read_summary(dir: &Path) -> Value {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let summary: Value = serde_json::from_str(&text).expect("summary.json is JSON");
    accounting::assert_nothing_cut_short(&summary);
    summary
}

/// Reads a child's stderr until a line contains `needle` (or it ends).
pub fn wait_for_line(child: &mut Child, needle: &str) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().expect("piped stderr");
    let mut reader = BufReader::new(stderr);
    let mut lines = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        lines.push(line.trim_end().to_string());
        if line.contains(needle) {
            break;
        }
        line.clear();
    }
    // Keep draining in the background so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    lines
}

/// Sends SIGINT to `child` (a Ctrl-C of its own): how a user stops a run.
pub fn interrupt(child: &Child) {
    signal(child, Signal::INT);
}

/// Sends `signal` to `child`, a process this test started and has not reaped.
pub fn signal(child: &Child, signal: Signal) {
    let _ = rustix::process::kill_process(Pid::from_child(child), signal);
}
