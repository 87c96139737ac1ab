//! Each engine given each composite topology once: a local run, a run on
//! the Swarm, a prediction, and a Kubernetes export checked offline. What
//! comes back is the figures, the engine's own refusal, or (Kubernetes)
//! the manifest's word that it carries the topology.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::figures::Figures;
use crate::common::Sandbox;

/// Where a topology can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Local,
    Swarm,
    Predict,
    Kubernetes,
}

impl Engine {
    /// Every engine, in the tables' column order.
    pub const ALL: [Engine; 4] = [
        Engine::Local,
        Engine::Swarm,
        Engine::Predict,
        Engine::Kubernetes,
    ];

    /// The column's heading.
    pub fn title(self) -> &'static str {
        match self {
            Engine::Local => "local (`run`)",
            Engine::Swarm => "Swarm (`run --on swarm`)",
            Engine::Predict => "simulator (`predict`)",
            Engine::Kubernetes => "Kubernetes (`export`)",
        }
    }
}

/// What one engine made of one topology.
pub enum Outcome {
    /// It ran (or simulated) it: the run folder's figures.
    Ran(Box<Figures>),
    /// The manifests carry the topology as written and pass
    /// `kubernetes-validate --strict`.
    Expressed,
    /// The engine refused it, in its own words.
    Refused(Vec<String>),
}

/// The composite topologies, `tests/topologies/engines-*.yaml`, in name order.
pub fn topologies() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/topologies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/topologies")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("engines-") && name.ends_with(".yaml")
        })
        .collect();
    files.sort();
    files
}

/// `engine` given `file`, in a fresh folder of `sandbox`.
pub fn on(engine: Engine, file: &Path, sandbox: &Sandbox) -> Outcome {
    let stem = file.file_stem().unwrap().to_string_lossy();
    let out = (1..)
        .map(|n| sandbox.dir.path().join(format!("{engine:?}-{stem}-{n}")))
        .find(|dir| !dir.exists())
        .expect("a fresh folder");
    // Named from the repository's root (where topolab runs), so that the
    // engines' words are the same in every checkout.
    let rel = file
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(file);
    let (file_s, out_s) = (rel.to_str().unwrap(), out.to_str().unwrap());
    let output = match engine {
        Engine::Local => sandbox
            .command(&["run", file_s, "--out", out_s, "-q"])
            .output(),
        Engine::Swarm => sandbox
            .command(&["run", file_s, "--on", "swarm", "--out", out_s, "-q"])
            .output(),
        // A fixed hop cost: the prediction's figures, not its accuracy, are read.
        Engine::Predict => sandbox
            .command(&["predict", file_s, "--out", out_s, "--hop-cost", "1ms", "-q"])
            .output(),
        Engine::Kubernetes => sandbox
            .command(&["export", "kubernetes", file_s, "--out", out_s])
            .output(),
    }
    .expect("topolab starts");
    if !output.status.success() {
        return Outcome::Refused(refusals(engine, file, &output));
    }
    match engine {
        Engine::Kubernetes => expressed(file, &out.join("kubernetes.yaml"), sandbox),
        _ => Outcome::Ran(Box::new(Figures::read(&out))),
    }
}

/// How an engine words a refusal, as opposed to a failure.
const REFUSING: [&str; 3] = [
    "not supported yet",
    "not simulated yet",
    "cannot be carried out",
];

/// The engine's reasons for refusing `file`, each an `error:` line that
/// says what is not supported (yet) or cannot be carried out there. Any
/// other failure is a broken engine, not a refusal, and fails the test.
fn refusals(engine: Engine, file: &Path, output: &Output) -> Vec<String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reasons: Vec<String> = stderr
        .lines()
        .filter(|l| {
            [
                "not supported yet",
                "not simulated yet",
                "cannot be carried out",
            ]
            .iter()
            .any(|p| l.contains(p))
        })
        .map(|l| l.trim().trim_start_matches("error: ").to_string())
        .collect();
    assert!(
        !reasons.is_empty() && engine != Engine::Local,
        "{engine:?} failed on {} without saying what it does not support ({}):\n{stderr}\n{}",
        file.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    reasons
}

/// The manifests pass `kubernetes-validate --strict`, their ConfigMap
/// holds the topology every replica and the driver read, as `file` has it,
/// and the Job's driver takes it (see [`driver_takes`]).
fn expressed(file: &Path, manifests: &Path, sandbox: &Sandbox) -> Outcome {
    let check = std::process::Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(manifests)
        .output()
        .expect("kubernetes-validate starts");
    assert!(
        check.status.success(),
        "{}: {}{}",
        manifests.display(),
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let text = std::fs::read_to_string(manifests).unwrap();
    let carried = configmap_topology(&text).expect("a ConfigMap with topology.yaml");
    let as_written = topolab_model::load(file, &[]).expect("the file loads");
    let in_cluster = topolab_model::load_str("topology.yaml", &carried, &[])
        .expect("the ConfigMap's topology loads");
    assert_eq!(
        in_cluster.topology,
        as_written.topology,
        "{}: the ConfigMap's topology is not the file's",
        file.display()
    );
    let carried_file = manifests.with_file_name("carried.yaml");
    std::fs::write(&carried_file, carried).unwrap();
    driver_takes(file, &carried_file, sandbox)
}

/// What the Job's driver (`drive` without `--stack`, as the manifests run
/// it) makes of the topology: it refuses what it cannot do before it looks
/// for a replica, so a driver still looking after a few seconds took it.
/// Its replicas' names end in `.invalid` (RFC 2606): nothing answers.
fn driver_takes(file: &Path, carried: &Path, sandbox: &Sandbox) -> Outcome {
    let out = carried.with_file_name("driven");
    let mut child = sandbox.spawn(&[
        "drive",
        carried.to_str().unwrap(),
        "--peers-dns",
        "{service}.invalid",
        "--out",
        out.to_str().unwrap(),
    ]);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < until {
        if child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            if REFUSING.iter().any(|p| stderr.contains(p)) {
                return Outcome::Refused(refusals(Engine::Kubernetes, file, &output));
            }
            return Outcome::Expressed;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    crate::common::signal(&child, crate::common::Signal::KILL);
    let _ = child.wait();
    Outcome::Expressed
}

/// The block under `topology.yaml: |` of the manifests, unindented.
fn configmap_topology(manifests: &str) -> Option<String> {
    let mut lines = manifests
        .lines()
        .skip_while(|l| l.trim() != "topology.yaml: |");
    let key = lines.next()?;
    let indent = key.len() - key.trim_start().len() + 2;
    let body: Vec<&str> = lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent)
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect();
    Some(body.join("\n"))
}

/// Swarm stacks of these topologies still deployed (`topolab-engines-*`):
/// `run --on swarm` removes its stack when it ends, refused or not.
pub fn stacks_left() -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["stack", "ls", "--format", "{{.Name}}"])
        .output()
        .expect("docker starts");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("topolab-engines-"))
        .map(str::to_string)
        .collect()
}
