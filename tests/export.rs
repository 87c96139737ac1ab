//! `topolab export`: the Kubernetes manifests of every example pass
//! `kubernetes-validate` (the official schemas, offline), or, for an example
//! with `kill` or `pause` faults (which the Job's driver cannot carry out),
//! the export is refused at the fault's line; and the compose
//! file of one example deploys with `docker stack deploy`, its services
//! run, and the stack is removed again.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Sandbox, peers, require_peer};

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn kubernetes_manifests_of_every_example_pass_kubernetes_validate() {
    if !require_peer(&peers::KUBERNETES_VALIDATE) {
        return;
    }
    let sandbox = Sandbox::new();
    let mut validated = 0;
    for file in examples() {
        let out = sandbox.dir.path().join(file.file_stem().unwrap());
        let export = sandbox
            .command(&[
                "export",
                "kubernetes",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&export.stderr);
        if signals_a_replica(&file) {
            // The Job's driver cannot kill or pause: refused, located.
            assert_eq!(
                export.status.code(),
                Some(1),
                "{}: {stderr}",
                file.display()
            );
            assert!(
                stderr.contains("fault cannot be carried out here")
                    && stderr.contains(&format!("{}:", file.display())),
                "{}: {stderr}",
                file.display()
            );
            assert!(!out.exists(), "{}: nothing written", file.display());
            continue;
        }
        assert!(export.status.success(), "{}: {stderr}", file.display());
        validated += 1;
        let manifests = out.join("kubernetes.yaml");
        let text = std::fs::read_to_string(&manifests).unwrap();
        assert!(
            text.contains("kind: Job") && text.contains("clusterIP: None"),
            "{text}"
        );
        let check = Command::new("kubernetes-validate")
            .args(["--strict"])
            .arg(&manifests)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&check.stdout).to_string()
            + &String::from_utf8_lossy(&check.stderr);
        assert!(check.status.success(), "{}: {report}", file.display());
        let passed = report.matches("passed").count();
        assert!(passed >= 4, "every object validated: {report}");
    }
    assert!(validated >= 3, "most examples export: {validated}");
}

/// Whether an example has a `kill` or `pause` fault (which the Kubernetes
/// export refuses).
fn signals_a_replica(file: &std::path::Path) -> bool {
    let text = std::fs::read_to_string(file).unwrap();
    text.contains("kill: true") || text.contains("pause: true")
}

#[test]
fn the_exported_compose_file_deploys_with_docker_stack_deploy() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let sandbox = Sandbox::new();
    let image = sandbox
        .command(&["image", "--tag", "topolab:local"])
        .output()
        .unwrap();
    assert!(
        image.status.success(),
        "{}",
        String::from_utf8_lossy(&image.stderr)
    );
    let out = sandbox.dir.path().join("compose");
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies/chain.yaml");
    let export = sandbox
        .command(&[
            "export",
            "compose",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );

    let stack = format!("topolab-export-test-{}", std::process::id());
    let deploy = Command::new("docker")
        .args(["stack", "deploy", "--compose-file", "compose.yaml", &stack])
        .current_dir(&out)
        .output()
        .unwrap();
    let removed = RemoveStack(stack.clone());
    assert!(
        deploy.status.success(),
        "{}",
        String::from_utf8_lossy(&deploy.stderr)
    );
    let until = Instant::now() + Duration::from_secs(90);
    loop {
        let ls = Command::new("docker")
            .args([
                "service",
                "ls",
                "--filter",
                &format!("label=com.docker.stack.namespace={stack}"),
                "--format",
                "{{.Replicas}}",
            ])
            .output()
            .unwrap();
        let replicas = String::from_utf8_lossy(&ls.stdout).to_string();
        if replicas.lines().count() == 4 && replicas.lines().all(|l| l == "1/1") {
            break;
        }
        assert!(Instant::now() < until, "services never all ran: {replicas}");
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(removed);
}

/// Removes the test's stack and waits until nothing of it is left.
struct RemoveStack(String);

impl Drop for RemoveStack {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["stack", "rm", &self.0])
            .output();
        let label = format!("label=com.docker.stack.namespace={}", self.0);
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            let left: usize = [["ps", "-a"], ["network", "ls"]]
                .iter()
                .map(|a| {
                    let o = Command::new("docker")
                        .args(a)
                        .args(["-q", "--filter", &label])
                        .output()
                        .unwrap();
                    String::from_utf8_lossy(&o.stdout).lines().count()
                })
                .sum();
            if left == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("stack {} was not removed within 60 s", self.0);
    }
}

#[test]
fn pack_writes_a_folder_as_a_tar_stream() {
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path().join("run");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("summary.json"), "{}").unwrap();
    std::fs::write(dir.join("logs/a.stderr"), "x").unwrap();
    let packed = sandbox
        .command(&["pack", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(packed.status.success());
    let mut archive = tar::Archive::new(&packed.stdout[..]);
    let mut names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path().unwrap().display().to_string();
            path.trim_end_matches('/').to_string()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["run", "run/logs", "run/logs/a.stderr", "run/summary.json"]
            .map(|n| n.trim_end_matches('/').to_string())
    );
}

/// Both exports carry a network's standing links through the topology file
/// each replica reads (no `cap_add`: the replicas shape in user space), and
/// say what they cannot carry: the link faults' timeline.
#[test]
fn exports_carry_standing_links_and_say_what_they_cannot() {
    let sandbox = Sandbox::new();
    let yaml = "name: links\nservices:\n  api:\n    endpoints: { Get: { steps: [ { call: db/Q } ] } }\n  db:\n    endpoints: { Q: {} }\nnetwork:\n  links:\n    api -> db: { delay: 2ms }\nfaults:\n  - { at: 1s, for: 1s, link: api <-> db, partition: true }\n";
    let file = sandbox.file("links.yaml", yaml);
    for target in ["compose", "kubernetes"] {
        let out = sandbox.dir.path().join(target);
        let export = sandbox
            .command(&[
                "export",
                target,
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&export.stderr);
        assert!(export.status.success(), "{target}: {stderr}");
        assert!(
            stderr.contains("standing links are carried")
                && stderr.contains("in user space")
                && stderr.contains("the 1 link fault(s), which nothing applies"),
            "{target}: {stderr}"
        );
        let written: String = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect();
        assert!(written.contains("api -> db"), "{target}: the links travel");
        assert!(!written.contains("cap_add") && !written.contains("NET_ADMIN"));
    }
}
