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
}
