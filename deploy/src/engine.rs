//! The Docker Engine as `kill` and `pause` faults reach containers: its HTTP
//! API over the unix socket (mounted into the load driver's container), so
//! `db#1` of a stack becomes the container of task slot 2 of `<stack>_db`,
//! SIGKILL a `kill`, SIGSTOP a `pause` and SIGCONT an `unpause`.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::future::BoxFuture;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use topolab_fleet::faults::{Processes, Signal};
use topolab_fleet::supervisor::ReplicaId;

/// Where the Docker Engine listens, on the host and in the driver's container.
pub const SOCKET: &str = "/var/run/docker.sock";

/// Containers of one Swarm stack, reached through the Engine API.
#[derive(Debug)]
pub struct Engine {
    socket: PathBuf,
    stack: String,
    /// Containers by service, listed ahead of the faults (see [`Engine::prepare`])
    /// so a fault is not late by a listing.
    known: Mutex<BTreeMap<String, Vec<(u32, String)>>>,
}

impl Engine {
    /// The containers of `stack`, through the socket at `socket`.
    pub fn new(socket: impl Into<PathBuf>, stack: &str) -> Self {
        Engine {
            socket: socket.into(),
            stack: stack.to_string(),
            known: Mutex::default(),
        }
    }

    /// Lists the containers of `services` now, before the load starts.
    pub async fn prepare(&self, services: &[&str]) -> anyhow::Result<()> {
        for s in services {
            let list = self.containers(s).await?;
            self.known.lock().insert(s.to_string(), list);
        }
        Ok(())
    }

    /// One request to the Engine; its status and body.
    async fn request(&self, method: &str, path: &str) -> anyhow::Result<(u16, Bytes)> {
        let stream = tokio::net::UnixStream::connect(&self.socket).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "docker")
            .body(Empty::<Bytes>::new())?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// The running containers of `service`, with their task slot (1-based).
    pub async fn containers(&self, service: &str) -> anyhow::Result<Vec<(u32, String)>> {
        let filter = format!(
            r#"{{"label":["com.docker.swarm.service.name={}_{service}"],"status":["running","paused"]}}"#,
            self.stack
        );
        let path = format!("/containers/json?filters={}", encode(&filter));
        let (status, body) = self.request("GET", &path).await?;
        anyhow::ensure!(status == 200, "listing containers: HTTP {status}");
        let list: Vec<Value> = serde_json::from_slice(&body)?;
        Ok(list
            .iter()
            .filter_map(|c| {
                let task = c["Labels"]["com.docker.swarm.task.name"].as_str()?;
                let slot = slot_of(task)?;
                Some((slot, c["Id"].as_str()?.to_string()))
            })
            .collect())
    }
}

impl Engine {
    /// The tasks of `service` as (slot, when created in unix microseconds):
    /// a restart by the Swarm is a new task in the same slot.
    async fn tasks(&self, service: &str) -> anyhow::Result<Vec<(u32, u64)>> {
        let filter = format!(r#"{{"service":["{}_{service}"]}}"#, self.stack);
        let path = format!("/tasks?filters={}", encode(&filter));
        let (status, body) = self.request("GET", &path).await?;
        anyhow::ensure!(status == 200, "listing tasks: HTTP {status}");
        let list: Vec<Value> = serde_json::from_slice(&body)?;
        Ok(list
            .iter()
            .filter_map(|t| {
                let slot = u32::try_from(t["Slot"].as_u64()?).ok()?;
                Some((slot, unix_us(t["CreatedAt"].as_str()?)?))
            })
            .collect())
    }
}

/// Every task after the first of its slot, created after `since_us`, as a
/// restart of replica `slot - 1` at its seconds after `since_us`.
fn restarts_of(mut tasks: Vec<(u32, u64)>, service: &str, since_us: u64) -> Vec<(ReplicaId, f64)> {
    tasks.sort_unstable();
    tasks
        .windows(2)
        .filter(|w| w[0].0 == w[1].0 && w[1].1 > since_us)
        .map(|w| {
            let id = ReplicaId {
                service: service.to_string(),
                index: w[1].0.saturating_sub(1),
            };
            (id, (w[1].1 - since_us) as f64 / 1e6)
        })
        .collect()
}

/// An Engine time (RFC 3339, nanoseconds) in unix microseconds.
fn unix_us(text: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(t.timestamp_micros()).ok()
}

/// The slot of a task name `stack_service.SLOT.TASKID`.
fn slot_of(task: &str) -> Option<u32> {
    let mut parts = task.rsplitn(3, '.');
    let _id = parts.next()?;
    parts.next()?.parse().ok()
}

/// Percent-encodes a query value (the Engine's `filters` is JSON).
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Processes for Engine {
    fn signal<'a>(
        &'a self,
        service: &'a str,
        index: Option<u32>,
        signal: Signal,
    ) -> BoxFuture<'a, Vec<ReplicaId>> {
        Box::pin(async move {
            let action = if signal == Signal::KILL {
                "kill?signal=SIGKILL"
            } else if signal == Signal::STOP {
                "pause"
            } else if signal == Signal::CONT {
                "unpause"
            } else {
                return Vec::new();
            };
            let known = self.known.lock().get(service).cloned();
            let listed = match known {
                Some(k) => Ok(k),
                None => self.containers(service).await,
            };
            let containers = match listed {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("warning: cannot list the containers of {service}: {e:#}");
                    return Vec::new();
                }
            };
            let mut reached = Vec::new();
            for (slot, id) in containers {
                let replica = slot - 1;
                if index.is_some_and(|i| i != replica) {
                    continue;
                }
                match self
                    .request("POST", &format!("/containers/{id}/{action}"))
                    .await
                {
                    Ok((204, _)) => reached.push(ReplicaId {
                        service: service.to_string(),
                        index: replica,
                    }),
                    Ok((status, body)) => eprintln!(
                        "warning: {action} on {service}#{replica}: HTTP {status} {}",
                        String::from_utf8_lossy(&body).trim()
                    ),
                    Err(e) => eprintln!("warning: {action} on {service}#{replica}: {e:#}"),
                }
            }
            reached
        })
    }

    fn restarts<'a>(
        &'a self,
        services: &'a [&'a str],
        since_unix_us: u64,
    ) -> BoxFuture<'a, Vec<(ReplicaId, f64)>> {
        Box::pin(async move {
            let mut all = Vec::new();
            for s in services {
                match self.tasks(s).await {
                    Ok(tasks) => all.extend(restarts_of(tasks, s, since_unix_us)),
                    Err(e) => eprintln!("warning: cannot count the restarts of {s}: {e:#}"),
                }
            }
            all.sort_by(|a, b| a.1.total_cmp(&b.1));
            all
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names_give_slots_and_filters_are_encoded() {
        assert_eq!(slot_of("topolab-spof_api.3.k2j4h5"), Some(3));
        assert_eq!(slot_of("nonsense"), None);
        assert_eq!(
            encode(r#"{"a":["b=c"]}"#),
            "%7B%22a%22%3A%5B%22b%3Dc%22%5D%7D"
        );
    }

    #[test]
    fn a_later_task_in_a_slot_after_the_start_is_a_restart() {
        let since = unix_us("2026-12-07T14:00:00Z").unwrap();
        let at = |s: &str| unix_us(&format!("2026-12-07T14:00:{s}Z")).unwrap();
        assert_eq!(at("01.5") - since, 1_500_000, "nanoseconds read");
        let tasks = vec![
            (2, since - 9_000_000),
            (1, since - 9_000_000),
            (1, at("03.25")),
            (1, at("07.000000001")),
            // Replaced before the load: not a restart of the run.
            (3, since - 9_000_000),
            (3, since - 5_000_000),
        ];
        let r = restarts_of(tasks, "db", since);
        let got: Vec<(String, f64)> = r.iter().map(|(id, t)| (id.to_string(), *t)).collect();
        assert_eq!(got, [("db#0".to_string(), 3.25), ("db#0".to_string(), 7.0)]);
    }
}
