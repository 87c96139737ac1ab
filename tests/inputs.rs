//! Inputs users get wrong, through the real binary: a used `--out` folder is
//! refused (and `--force` empties it), two runs never share a folder, faults
//! outside the load's span, indentation mistakes and `--set` into lists are
//! located errors, and `--duration` scales the faults with the load and its
//! errors name it as typed, once.

mod common;

use std::process::Stdio;

use common::Sandbox;

const QUICK: &str = "name: quick
services:
  api:
    endpoints:
      Get:
        steps:
          - work: 1ms
load:
  users:
    target: api/Get
    rate: 20/s
    duration: 1s
";

#[test]
fn out_onto_a_used_folder_is_refused_and_force_empties_it() {
    let sb = Sandbox::new();
    let file = sb.file("quick.yaml", QUICK);
    let out = sb.out();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();

    let refused = sb.run(&file, &["-q"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not empty (it holds notes.txt)"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "says how to mend it: {stderr}");
    assert!(out.join("notes.txt").exists(), "nothing touched");
    assert!(!out.join("summary.json").exists());
    assert!(sb.live_processes().is_empty(), "nothing started");

    let forced = sb.run(&file, &["-q", "--force"]);
    assert!(forced.status.success());
    assert!(!out.join("notes.txt").exists(), "--force emptied it");
    assert!(out.join("summary.json").exists());
}

#[test]
fn two_runs_never_share_a_folder() {
    let sb = Sandbox::new();
    let file = sb.file("quick.yaml", QUICK);
    let out = sb.out();
    let args = [
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    let a = sb
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = sb
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let ok = [&a, &b].iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "exactly one run takes the folder");
    let loser = if a.status.success() { &b } else { &a };
    let stderr = String::from_utf8_lossy(&loser.stderr);
    assert_eq!(loser.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("being written by another topolab run") || stderr.contains("is not empty"),
        "{stderr}"
    );

    // Default folders: made with an exclusive create, so runs started in
    // the same second get different names.
    let dir = sb.dir.path();
    let spawn = || {
        sb.command(&["run", file.to_str().unwrap(), "-q"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (c, d) = (spawn(), spawn());
    let last_line = |o: std::process::Output| {
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap()
            .to_string()
    };
    let (c, d) = (
        last_line(c.wait_with_output().unwrap()),
        last_line(d.wait_with_output().unwrap()),
    );
    assert_ne!(c, d, "each run its own folder");
}

/// `topolab validate` on `yaml`: exit 1 and the rendered errors.
fn invalid(sb: &Sandbox, yaml: &str, sets: &[&str]) -> String {
    let file = sb.file("t.yaml", yaml);
    let mut args = vec!["run", file.to_str().unwrap()];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = sb.command(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn a_fault_after_the_load_is_a_located_error() {
    let sb = Sandbox::new();
    let yaml = format!("{QUICK}faults:\n  - {{ at: 5s, for: 1s, target: api, slow: 2x }}\n");
    let e = invalid(&sb, &yaml, &[]);
    assert!(
        e.contains("this fault is due at 5s, but the load ends at 1s, so it would never fire"),
        "{e}"
    );
    assert!(e.contains("t.yaml:14:11"), "points at `at`: {e}");
}

#[test]
fn indentation_mistakes_say_indentation_on_the_right_line() {
    let sb = Sandbox::new();
    let yaml = QUICK.replace("    rate: 20/s", "     rate: 20/s");
    let e = invalid(&sb, &yaml, &[]);
    assert!(
        e.contains("indentation: line 11 is indented by 5 space(s)"),
        "{e}"
    );
    assert!(e.contains("t.yaml:11:6"), "{e}");
    assert!(
        e.contains("by 4 to line it up with `target` (line 10)"),
        "{e}"
    );
}

/// Two generators, the second starting late, so `--duration` sets four values.
const TWO: &str = "name: two
services:
  api:
    endpoints:
      Get:
        steps:
          - work: 1ms
load:
  early:
    target: api/Get
    rate: 20/s
    duration: 1s
  late:
    target: api/Get
    rate: 20/s
    start: 1s
    duration: 100ms
";

#[test]
fn duration_errors_name_the_flag_as_typed_once() {
    let sb = Sandbox::new();
    let file = sb.file("t.yaml", TWO);
    let errors = |d: &str| {
        let out = sb
            .command(&["run", file.to_str().unwrap(), "--duration", d])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        stderr
    };
    let e = errors("10");
    assert_eq!(
        e.matches("invalid `--duration 10`: `10` has no unit")
            .count(),
        1,
        "{e}"
    );
    assert_eq!(e.matches("error:").count(), 1, "{e}");
    assert!(!e.contains("--set"), "the user typed no `--set`: {e}");

    // 1us over a 1.1 s load leaves `late` a duration of 0us: the note names
    // the flag typed, not the override it stood for.
    let e = errors("1us");
    assert!(e.contains("note: set by `--duration 1us`"), "{e}");
    assert!(!e.contains("--set"), "{e}");
}

#[test]
fn set_reaches_into_lists() {
    let sb = Sandbox::new();
    let e = invalid(
        &sb,
        QUICK,
        &["services.api.endpoints.Get.steps.0.work=-1ms"],
    );
    assert!(e.contains("t.yaml:7:19"), "the list item's value: {e}");
    assert!(
        e.contains("set by `--set services.api.endpoints.Get.steps.0.work=-1ms`"),
        "{e}"
    );
    let e = invalid(&sb, QUICK, &["services.api.endpoints.Get.steps.3.work=1ms"]);
    assert!(e.contains("has 1 item(s), so there is no item 3"), "{e}");

    let file = sb.file("quick.yaml", QUICK);
    let out = sb.run(
        &file,
        &[
            "-q",
            "--set",
            "services.api.endpoints.Get.steps.0.work=30ms",
        ],
    );
    assert!(out.status.success());
    let s = sb.summary();
    let work = s["services"]["api"]["endpoints"]["Get"]["work_ms"]["mean"]
        .as_f64()
        .unwrap();
    assert!(work >= 29.0, "the override ran: work mean {work} ms");
}

#[test]
fn duration_scales_faults_and_starts_with_the_load() {
    let sb = Sandbox::new();
    let yaml = "name: phases
services:
  api:
    endpoints:
      Get:
        steps:
          - work: 1ms
load:
  before:
    target: api/Get
    rate: 10/s
    duration: 10s
  after:
    target: api/Get
    rate: 10/s
    start: 10s
    duration: 10s
faults:
  - { at: 8s, for: 4s, target: api, slow: 2x }
";
    let file = sb.file("phases.yaml", yaml);
    let out = sb.run(&file, &["-q", "--duration", "2s"]);
    assert!(out.status.success());
    let ran = std::fs::read_to_string(sb.out().join("topology.yaml")).unwrap();
    let t: serde_json::Value = {
        let s = sb.summary();
        s["faults"][0].clone()
    };
    assert_eq!(t["at_s"].as_f64(), Some(0.8), "{t}\n{ran}");
    assert_eq!(t["for_s"].as_f64(), Some(0.4), "{t}");
    assert!(ran.contains("start: 1000000us"), "{ran}");
}
