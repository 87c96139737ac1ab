//! Running the real `topolab` binary (the release build beside this one): a
//! whole run to its summary, or `run` of a topology without load, which keeps
//! its replicas up and prints their addresses until interrupted.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The release `topolab` beside this benchmark binary.
pub fn binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no parent dir"))?;
    let bin = dir.join("topolab");
    anyhow::ensure!(
        bin.exists(),
        "{} not built: run `cargo build --release` first",
        bin.display()
    );
    Ok(bin)
}

/// Runs `yaml` to completion and returns its summary.json.
pub fn run_once(yaml: &str) -> anyhow::Result<Value> {
    Ok(run_kept(yaml)?.1)
}

/// Runs `yaml` to completion; its run folder (`run` in the returned
/// directory, removed on drop) and its summary.json.
pub fn run_kept(yaml: &str) -> anyhow::Result<(tempfile::TempDir, Value)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, yaml)?;
    let out = dir.path().join("run");
    let status = Command::new(binary()?)
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "topolab run failed: {status}");
    let summary = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json"))?)?;
    Ok((dir, summary))
}

/// A topology without load, kept up; stopped with SIGINT on drop.
pub struct Up {
    pub addrs: Vec<String>,
    /// `service#index` of each address, in the same order.
    pub ids: Vec<String>,
    pub healthy_ms: f64,
    /// `None` once stopped and reaped.
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Up {
    /// Starts `yaml` (no `load:`) and waits for its `n` replica addresses.
    pub fn start(yaml: &str, n: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("t.yaml");
        std::fs::write(&file, yaml)?;
        let mut child = Command::new(binary()?)
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(dir.path().join("run"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
        let mut lines = BufReader::new(stderr).lines();
        let mut healthy_ms = 0.0;
        loop {
            let line = lines
                .next()
                .ok_or_else(|| anyhow::anyhow!("topolab ended early"))??;
            if let Some(rest) = line.split("healthy after ").nth(1) {
                healthy_ms = rest.trim_end_matches(" ms").parse().unwrap_or(0.0);
            } else if line.contains("no load is sent") {
                break;
            }
        }
        // The terminal lists a dozen; replicas.csv has every address.
        let csv = std::fs::read_to_string(dir.path().join("run").join("replicas.csv"))?;
        let (ids, addrs): (Vec<String>, Vec<String>) = csv
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut cols = l.split(',');
                Some((cols.next()?.to_string(), cols.next()?.to_string()))
            })
            .unzip();
        anyhow::ensure!(addrs.len() == n, "{} addresses, {n} expected", addrs.len());
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Up {
            addrs,
            ids,
            healthy_ms,
            child: Some(child),
            dir,
        })
    }

    /// The address of replica `id` (`service#index`).
    pub fn addr_of(&self, id: &str) -> anyhow::Result<&str> {
        let i = self.ids.iter().position(|x| x == id);
        i.map(|i| self.addrs[i].as_str())
            .ok_or_else(|| anyhow::anyhow!("no replica {id} among {:?}", self.ids))
    }

    /// The launcher's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Stops the run (a Ctrl-C of its own) and returns its summary.json.
    pub fn stop(mut self) -> anyhow::Result<Value> {
        self.interrupt();
        let summary = self.dir.path().join("run").join("summary.json");
        Ok(serde_json::from_str(&std::fs::read_to_string(summary)?)?)
    }

    fn interrupt(&mut self) {
        // Our own child, not yet reaped: a Ctrl-C of its own.
        if let Some(mut child) = self.child.take() {
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
            let _ = child.wait();
        }
    }

    /// Resident memory of each replica process (children of the launcher), KiB.
    pub fn replica_rss_kib(&self) -> Vec<u64> {
        children_rss_kib(self.pid())
    }
}

/// Resident memory of a process, KiB (0 once it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resident memory of each child process of `pid` (a launcher's replicas), KiB.
pub fn children_rss_kib(pid: u32) -> Vec<u64> {
    let parent = pid.to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split_whitespace().nth(1))
        };
        if field("PPid:") == Some(parent.as_str())
            && let Some(kib) = field("VmRSS:").and_then(|v| v.parse().ok())
        {
            out.push(kib);
        }
    }
    out
}

/// The launcher's children: its replicas.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// Time a process's threads have run on a CPU, in nanoseconds: the sum of
/// each thread's `schedstat` (exact, where utime + stime count whole clock
/// ticks and miss a replica's short wake-ups).
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut sum = 0;
    for t in tasks.flatten() {
        let text = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        sum += text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(sum)
}

impl Drop for Up {
    fn drop(&mut self) {
        self.interrupt();
    }
}
