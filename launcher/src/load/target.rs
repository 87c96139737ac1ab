//! The generator's side of the wire: channels to every replica of the target
//! service, kept open for the run, and one request with its deadline and
//! retries, the way an outside client would send it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use topolab_model::{Generator, Target as EndpointRef};
use topolab_proto::v1::CallRequest;
use topolab_proto::v1::replica_client::ReplicaClient;

use super::recorder::Outcome;

/// Codes worth another attempt: the callee was busy, down or too slow.
const RETRYABLE: [Code; 3] = [
    Code::Unavailable,
    Code::DeadlineExceeded,
    Code::ResourceExhausted,
];

/// Open channels to the target's replicas; requests go round-robin.
pub struct Target {
    clients: Vec<ReplicaClient<Channel>>,
    next: AtomicUsize,
    endpoint: String,
    /// The request payload (zeros of the generator's `request` size).
    payload: Vec<u8>,
    timeout: Duration,
    retries: u32,
}

impl Target {
    /// Connects (lazily) to every address of `target`'s service, to send
    /// with `generator`'s deadline, retries and payload.
    pub fn new(
        target: &EndpointRef,
        generator: &Generator,
        addrs: &[SocketAddr],
    ) -> anyhow::Result<Self> {
        let clients = addrs
            .iter()
            .map(|a| {
                let channel = Endpoint::from_shared(format!("http://{a}"))?
                    .tcp_nodelay(true)
                    .connect_lazy();
                Ok(ReplicaClient::new(channel))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!clients.is_empty(), "{target} has no replicas");
        Ok(Target {
            clients,
            next: AtomicUsize::new(0),
            endpoint: target.endpoint.clone(),
            payload: vec![0u8; generator.request as usize],
            timeout: generator.timeout,
            retries: generator.retries,
        })
    }

    /// Sends one request within the generator's deadline, retrying retryable
    /// failures while time is left; returns the outcome and attempts made.
    /// `session` is the client identity's key ("" for none).
    pub async fn send(&self, session: &str) -> (Outcome, u32) {
        let deadline = Instant::now() + self.timeout;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let code = self.attempt(deadline, session).await;
            let again = attempts <= self.retries
                && RETRYABLE.contains(&code)
                && deadline > Instant::now() + Duration::from_millis(1);
            if !again {
                return (Outcome::from_code(code), attempts);
            }
        }
    }

    async fn attempt(&self, deadline: Instant, session: &str) -> Code {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        let mut client = self.clients[i].clone();
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Code::DeadlineExceeded;
        }
        let mut request = tonic::Request::new(CallRequest {
            endpoint: self.endpoint.clone(),
            payload: self.payload.clone(),
            session: session.to_string(),
        });
        request.set_timeout(left);
        // The server enforces grpc-timeout too; this bounds a server that hangs.
        match tokio::time::timeout(left, client.call(request)).await {
            Ok(Ok(_)) => Code::Ok,
            // tonic's own timer answers CANCELLED ("Timeout expired") when
            // the deadline it was given runs out: that is a timeout.
            Ok(Err(status)) if status.code() == Code::Cancelled && Instant::now() >= deadline => {
                Code::DeadlineExceeded
            }
            Ok(Err(status)) => status.code(),
            Err(_) => Code::DeadlineExceeded,
        }
    }
}
