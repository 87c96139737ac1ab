//! A `topolab lab` session driven from a test: started in the background,
//! its URL and token read from its first line, its API called with the
//! token (or without, to see it refused), and stopped through the API.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

use super::Sandbox;

/// A lab running in the background.
pub struct Lab {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub token: String,
    /// What it printed on stdout after its URL, as it comes.
    pub said: Arc<Mutex<String>>,
    /// What it printed on stderr, as it comes.
    pub warned: Arc<Mutex<String>>,
}

/// An HTTP client that hands back every status instead of failing on 4xx.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

impl Lab {
    /// `topolab lab ARGS --out <sandbox>/run`, once its URL is printed and
    /// its load has started.
    pub fn start(sb: &Sandbox, args: &[&str]) -> Lab {
        let out = sb.out();
        let mut all = vec!["lab"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", out.to_str().unwrap()]);
        let mut child = sb.spawn(&all);
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let url = loop {
            line.clear();
            let n = stdout.read_line(&mut line).expect("read stdout");
            assert!(n > 0, "the lab ended before printing its URL");
            if let Some(url) = line.trim().strip_prefix("lab: ") {
                break url.to_string();
            }
        };
        let said = Arc::new(Mutex::new(String::new()));
        let sink = said.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let warned = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = warned.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let (base, token) = url.split_once("/?token=").expect("a URL with a token");
        let lab = Lab {
            child,
            base: base.to_string(),
            token: token.to_string(),
            said,
            warned,
        };
        let until = Instant::now() + Duration::from_secs(60);
        while lab.state()["running"] != true {
            assert!(Instant::now() < until, "the lab's load never started");
            std::thread::sleep(Duration::from_millis(100));
        }
        lab
    }

    /// The page's full URL, token included.
    pub fn url(&self) -> String {
        format!("{}/?token={}", self.base, self.token)
    }

    /// `GET path` with the token; the status and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut r = agent()
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap_or_default())
    }

    /// `GET /api/state`, as JSON.
    pub fn state(&self) -> Value {
        let (status, body) = self.get("/api/state");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("state is JSON")
    }

    /// `POST /api/control` with the token and `command`; the status and the body.
    pub fn control(&self, command: &Value) -> (u16, Value) {
        let mut r = agent()
            .post(format!("{}/api/control", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(command.to_string())
            .expect("POST");
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    /// `control`, which must succeed.
    pub fn ok(&self, command: Value) {
        let (status, body) = self.control(&command);
        assert_eq!(status, 200, "{command} was refused: {body}");
    }

    /// Stops the lab through its API and waits for it to write its folder.
    pub fn stop(mut self) -> (ExitStatus, String) {
        self.ok(serde_json::json!({"stop": true}));
        let until = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.said.lock().clone());
            }
            assert!(Instant::now() < until, "the lab did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
