//! The lab on a terminal without a browser (tmux): the dashboard names its
//! keys, and `+`, `p`, `k`, `s` change the running experiment as the page's
//! controls do (seen through the API); `q` stops it and the folder with
//! `lab.yaml` is written. Without tmux it fails in CI and is skipped
//! elsewhere (`.ci/run` installs it).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::lab::agent;
use common::{Sandbox, peers, require_peer};
use serde_json::Value;

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux").args(args).output().expect("run tmux")
}

fn pane(session: &str) -> String {
    String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-J", "-t", session]).stdout).into_owned()
}

/// Kills the tmux session this test started, however the test ends.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.0]);
    }
}

/// Waits until `pred` holds for what the API says, within `limit`.
fn until_state(base: &str, token: &str, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + limit;
    loop {
        let mut r = agent()
            .get(format!("{base}/api/state"))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap();
        let s: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < until, "not within {limit:?}: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_dashboards_keys_steer_the_lab() {
    if !require_peer(&peers::TMUX) {
        return;
    }
    let sb = Sandbox::new();
    let session = Session(format!("topolab-lab-{}", std::process::id()));
    let cmd = format!(
        "TOPOLAB_TEST_MARK='{}' '{}' lab --out '{}'; echo EXITED $?; sleep 60",
        sb.mark,
        env!("CARGO_BIN_EXE_topolab"),
        sb.out().display(),
    );
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session.0,
        "-x",
        "160",
        "-y",
        "30",
        &cmd,
    ]);
    assert!(started.status.success(), "{started:?}");
    let until = Instant::now() + Duration::from_secs(60);
    let url = loop {
        let text = pane(&session.0);
        let found = text.contains("Tab: pick a generator").then(|| {
            text.split_whitespace()
                .find(|w| w.starts_with("http://") && w.contains("token="))
                .map(|w| {
                    w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                        .to_string()
                })
        });
        if let Some(Some(url)) = found {
            break url;
        }
        assert!(
            Instant::now() < until,
            "no dashboard with the lab's URL:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (base, token) = url.split_once("/?token=").unwrap();
    let keys = |k: &str| {
        tmux(&["send-keys", "-t", &session.0, k]);
    };
    // The first generator (regulars, 3/s) is picked: three steps up.
    for _ in 0..3 {
        keys("+");
        std::thread::sleep(Duration::from_millis(300));
    }
    until_state(base, token, Duration::from_secs(5), |s| {
        s["knobs"]["regulars"]["rate"] == 6.0
    });
    keys("p");
    until_state(base, token, Duration::from_secs(5), |s| {
        s["knobs"]["regulars"]["paused"] == true
    });
    keys("k");
    until_state(base, token, Duration::from_secs(5), |s| {
        s["now"]["replicas"][0]["alive"] == false
    });
    keys("s");
    until_state(base, token, Duration::from_secs(5), |s| {
        s["now"]["replicas"][0]["alive"] == true
    });
    keys("q");
    let until = Instant::now() + Duration::from_secs(60);
    while !pane(&session.0).contains("EXITED") {
        assert!(
            Instant::now() < until,
            "the lab did not stop:\n{}",
            pane(&session.0)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        pane(&session.0).contains("EXITED 0"),
        "{}",
        pane(&session.0)
    );
    let lab_yaml = std::fs::read_to_string(sb.out().join("lab.yaml")).unwrap();
    assert!(lab_yaml.contains("rate: 6/s"), "{lab_yaml}");
}
