//! The live dashboard in a real pseudo-terminal (tmux): it draws the
//! services and the load while the run goes on, `q` stops the run the way
//! Ctrl-C does, the terminal is given back, and the summary follows on
//! stdout. Without tmux it fails in CI and is skipped elsewhere
//! (`common::require_peer`; `.ci/run` installs it).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Sandbox, peers, require_peer};

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux").args(args).output().expect("run tmux")
}

fn pane(session: &str) -> String {
    String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", session]).stdout).into_owned()
}

fn wait_for(session: &str, needle: &str, limit: Duration) -> String {
    let until = Instant::now() + limit;
    loop {
        let text = pane(session);
        if text.contains(needle) || Instant::now() > until {
            return text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Kills the tmux session this test started, however the test ends.
struct Session(String);

impl Session {
    /// Starts `topolab run FILE` in a detached 140×30 tmux session named
    /// after `name`; the pane prints `EXITED <status>` when the run ends.
    fn run(name: &str, sb: &Sandbox, file: &std::path::Path) -> Session {
        let session = Session(format!("topolab-{name}-{}", std::process::id()));
        let cmd = format!(
            "TOPOLAB_TEST_MARK='{}' '{}' run '{}' --out '{}'; echo EXITED $?; sleep 60",
            sb.mark,
            env!("CARGO_BIN_EXE_topolab"),
            file.display(),
            sb.out().display(),
        );
        let started = tmux(&[
            "new-session",
            "-d",
            "-s",
            &session.0,
            "-x",
            "140",
            "-y",
            "30",
            &cmd,
        ]);
        assert!(started.status.success(), "{started:?}");
        session
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.0]);
    }
}

#[test]
fn dashboard_draws_in_a_terminal_and_q_stops_the_run() {
    if !require_peer(&peers::TMUX) {
        return;
    }
    let sb = Sandbox::new();
    let file = sb.file(
        "live.yaml",
        "name: live\nservices:\n  web:\n    workers: 2\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n  db:\n    workers: 1\n    queue: 8\n    endpoints:\n      Q:\n        steps:\n          - work: 5ms\nload:\n  users:\n    target: web/Get\n    rate: 50/s\n    duration: 60s\n",
    );
    let session = Session::run("live", &sb, &file);

    let screen = wait_for(&session.0, "busy", Duration::from_secs(30));
    assert!(screen.contains("services"), "dashboard drawn:\n{screen}");
    assert!(screen.contains("web") && screen.contains("db"), "{screen}");
    assert!(screen.contains("users → web/Get"), "load shown:\n{screen}");
    std::thread::sleep(Duration::from_millis(1500));
    let later = pane(&session.0);
    assert_ne!(screen, later, "the dashboard updates");

    tmux(&["send-keys", "-t", &session.0, "q"]);
    let after = wait_for(&session.0, "EXITED", Duration::from_secs(30));
    assert!(after.contains("EXITED 0"), "clean exit after q:\n{after}");
    assert!(after.contains("(interrupted)"), "summary printed:\n{after}");
    assert!(after.contains("service/endpoint"), "{after}");
    assert!(!after.contains("busy  "), "dashboard put away:\n{after}");
    let summary = sb.summary();
    assert_eq!(summary["interrupted"], true);
    assert!(summary["load"]["users"]["sent"].as_u64().unwrap() > 0);
    assert!(
        sb.wait_all_gone(Duration::from_secs(10)).is_empty(),
        "no process of the run outlives it"
    );
}

/// Fault and restart notices go into the dashboard's own pane while it is up
/// (no line of log text lands on the frame), generators not started yet say
/// so, and every notice reaches the scrollback once the dashboard closes.
#[test]
fn faults_and_restarts_go_into_a_pane_never_over_the_frame() {
    let sb = Sandbox::new();
    let file = sb.file(
        "faults.yaml",
        "name: faults\nservices:\n  web:\n    replicas: 2\n    restart: always\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n  db:\n    queue: 8\n    endpoints:\n      Q:\n        steps:\n          - work: 2ms\nload:\n  before:\n    target: web/Get\n    rate: 30/s\n    duration: 4s\n  after:\n    target: web/Get\n    rate: 30/s\n    start: 4s\n    duration: 60s\nfaults:\n  - { at: 0.5s, target: web#0, kill: true }\n  - { at: 1s, for: 1s, target: db, slow: 3x }\n  - { at: 1.5s, target: web#1, kill: true }\n",
    );
    let session = Session::run("faults", &sb, &file);

    let screen = wait_for(
        &session.0,
        "cleared: slow 3x on db",
        Duration::from_secs(40),
    );
    assert!(screen.contains("notices"), "a pane for notices:\n{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("after → web/Get") && l.contains("not started yet: starts in")),
        "a generator before its start says so:\n{screen}"
    );
    // Every line is the title, a line of a bordered box, or the help line:
    // log text printed over the frame would start anywhere else.
    for line in screen.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            [" topolab · ", "┌", "│", "└", " q or Ctrl-C"]
                .iter()
                .any(|p| line.starts_with(p)),
            "text outside the dashboard's frame: {line:?}\n{screen}"
        );
    }
    for notice in [
        "fault: kill on web#0",
        "restarted web#0",
        "fault: slow 3x on db",
    ] {
        assert!(
            screen
                .lines()
                .any(|l| l.starts_with('│') && l.contains(notice)),
            "{notice:?} in the pane:\n{screen}"
        );
    }

    tmux(&["send-keys", "-t", &session.0, "q"]);
    let after = wait_for(&session.0, "EXITED", Duration::from_secs(30));
    let scrollback = String::from_utf8_lossy(
        &tmux(&["capture-pane", "-p", "-S", "-200", "-t", &session.0]).stdout,
    )
    .into_owned();
    assert!(after.contains("EXITED 0"), "{after}");
    for notice in [
        "fault: kill on web#0",
        "restarted web#1",
        "cleared: slow 3x on db",
    ] {
        assert!(
            scrollback
                .lines()
                .any(|l| l.contains(notice) && !l.starts_with('│')),
            "{notice:?} printed after the dashboard closed:\n{scrollback}"
        );
    }
    assert!(
        sb.wait_all_gone(Duration::from_secs(10)).is_empty(),
        "no process of the run outlives it"
    );
}
