//! `make bench BENCH=sim`: the simulator's speed. Events per second (per
//! wall second and per CPU second) of an M/M/1 queue and of 60 simulated
//! seconds of a generated 1,000- and 10,000-service topology
//! ([`topolab_sim::generate::layered`]) at 100,000 requests per simulated
//! second; then the wall time, CPU time and peak memory of `topolab
//! predict` on the same topologies (validation, run folder, tables). Each
//! case runs in a process of its own, so its peak memory is its own.
//! Goals: ≥ 5 M events/s; 10,000 services in ≤ 30 s.

use std::process::{Command, Stdio};
use std::time::Instant;

use topolab_model::{Limits, load_str_with};
use topolab_sim::generate::layered;

/// The goals the issue sets.
const GOAL_EVENTS_PER_S: f64 = 5e6;
const GOAL_10K_WALL_S: f64 = 30.0;

/// The hidden argument that runs one case in a child process.
pub const CHILD: &str = "sim-case";

/// Runs every case, each in a child, and prints the figures.
pub fn bench() -> anyhow::Result<()> {
    println!(
        "\n== simulator: events per second on one core, and wall time, CPU time and peak memory per prediction"
    );
    println!(
        "{:<30} {:>8} {:>7} {:>11} {:>7} {:>7} {:>7} {:>7} {:>8}",
        "simulation alone",
        "M ev/s",
        "/ 5 M",
        "M ev/cpu-s",
        "/ 5 M",
        "wall s",
        "cpu s",
        "M ev",
        "RSS MiB"
    );
    for case in ["mm1", "1000", "10000"] {
        let (line, usage) = child(case)?;
        let f: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(f64::NAN))
            .collect();
        let [events, wall, cpu, requests] = f[..] else {
            anyhow::bail!("case {case}: unexpected output {line:?}");
        };
        let label = match case {
            "mm1" => "M/M/1".to_string(),
            n => format!("{n} services, 100k/s × 60 s"),
        };
        let (rate, per_cpu) = (events / wall.max(1e-9), events / cpu.max(1e-9));
        println!(
            "{label:<30} {:>8.2} {:>7.3} {:>11.2} {:>7.3} {wall:>7.2} {cpu:>7.2} {:>7.1} {:>8.0}   ({:.2} M requests)",
            rate / 1e6,
            rate / GOAL_EVENTS_PER_S,
            per_cpu / 1e6,
            per_cpu / GOAL_EVENTS_PER_S,
            events / 1e6,
            usage.rss_kib as f64 / 1024.0,
            requests / 1e6,
        );
    }
    cli()?;
    println!(
        "goals: >= 5 M events/s (ratio >= 1); 10,000 services in <= 30 s (ratio <= 1). On a shared machine the CPU-time figures are the ones that say what one core does"
    );
    Ok(())
}

/// What a finished child used.
struct Usage {
    rss_kib: u64,
    cpu_s: f64,
}

/// Spawns this program on one case; returns its output line and usage.
fn child(case: &str) -> anyhow::Result<(String, Usage)> {
    let out = tempfile::NamedTempFile::new()?;
    let exe = std::env::current_exe()?;
    let c = Command::new(exe)
        .args([CHILD, case])
        .stdout(out.reopen()?)
        .stderr(Stdio::inherit())
        .spawn()?;
    let usage = wait_usage(c.id())?;
    let line = std::fs::read_to_string(out.path())?;
    Ok((line.trim().to_string(), usage))
}

/// Waits for child `pid`; returns its peak resident memory and CPU time.
/// (libc: rustix wraps neither wait4 nor getrusage.)
fn wait_usage(pid: u32) -> anyhow::Result<Usage> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, status and usage are valid pointers.
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    anyhow::ensure!(r == pid as libc::pid_t, "wait4 failed for {pid}");
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child {pid} failed (status {status})"
    );
    Ok(Usage {
        rss_kib: usage.ru_maxrss as u64,
        cpu_s: seconds(usage.ru_utime) + seconds(usage.ru_stime),
    })
}

fn seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// This process's CPU time so far.
fn cpu_now() -> f64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The child: one case simulated (no run folder), printed as
/// `events wall_s cpu_s requests`.
pub fn case(which: &str) -> anyhow::Result<()> {
    let yaml = match which {
        "mm1" => MM1.to_string(),
        n => layered(n.parse()?, 100_000.0, 60),
    };
    let loaded = load_str_with("generated.yaml", &yaml, &[], Limits::SIMULATION)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let opts = topolab_sim::Options {
        seed: 1,
        hop_cost: 400_000,
        work_overhead: 0,
        telemetry: true,
        ..topolab_sim::Options::default()
    };
    let (t, c) = (Instant::now(), cpu_now());
    let f = topolab_sim::simulate(&loaded.topology, &opts)?;
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_now() - c);
    let sent: u64 = f.load.iter().map(|l| l.sent).sum();
    println!("{} {wall} {cpu} {sent}", f.events);
    Ok(())
}

/// `topolab predict FILE` on the generated topologies, as a user runs it:
/// validation, simulation, run folder, tables.
fn cli() -> anyhow::Result<()> {
    let Ok(bin) = crate::topolab::binary() else {
        println!("topolab predict: skipped, the release `topolab` binary is not built");
        return Ok(());
    };
    println!(
        "{:<30} {:>8} {:>7} {:>7} {:>8}",
        "`topolab predict FILE`", "wall s", "/ 30 s", "cpu s", "RSS MiB"
    );
    for n in [1_000, 10_000] {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join(format!("generated-{n}.yaml"));
        std::fs::write(&file, layered(n, 100_000.0, 60))?;
        let t = Instant::now();
        let c = Command::new(&bin)
            .arg("predict")
            .arg(&file)
            .args(["--hop-cost", "400us", "--seed", "1", "--out"])
            .arg(dir.path().join("p"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let usage = wait_usage(c.id())?;
        let wall = t.elapsed().as_secs_f64();
        println!(
            "{:<30} {wall:>8.1} {:>7.2} {:>7.1} {:>8.0}",
            format!("{n} services, 100k/s × 60 s"),
            wall / GOAL_10K_WALL_S,
            usage.cpu_s,
            usage.rss_kib as f64 / 1024.0
        );
    }
    Ok(())
}

const MM1: &str = "name: mm1\nservices:\n  s:\n    queue: unbounded\n    endpoints:\n      E:\n        steps:\n          - work: exp(10ms)\nload:\n  g:\n    target: s/E\n    rate: 80/s\n    duration: 20000s\n    timeout: 60s\n";
