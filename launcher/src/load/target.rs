//! The generator's side of the wire: channels to every replica of the target
//! service, kept open for the run, and one request with its deadline and
//! retries, the way an outside client would send it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use topolab_model::Generator;
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
    /// `sessions: N`: each request carries one of N keys, `NAME-k`.
    sessions: u32,
    sent: AtomicU64,
    name: String,
}

impl Target {
    /// Connects (lazily) to every address of the generator's target service.
    pub fn new(generator: &Generator, addrs: &[SocketAddr]) -> anyhow::Result<Self> {
        let clients = addrs
            .iter()
            .map(|a| {
                let channel = Endpoint::from_shared(format!("http://{a}"))?
                    .tcp_nodelay(true)
                    .connect_lazy();
                Ok(ReplicaClient::new(channel))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!clients.is_empty(), "{} has no replicas", generator.target);
        Ok(Target {
            clients,
            next: AtomicUsize::new(0),
            endpoint: generator.target.endpoint.clone(),
            payload: vec![0u8; generator.request as usize],
            timeout: generator.timeout,
            retries: generator.retries,
            sessions: generator.sessions,
            sent: AtomicU64::new(0),
            name: generator.name.clone(),
        })
    }

    /// Sends one request within the generator's deadline, retrying retryable
    /// failures while time is left; returns the outcome and attempts made.
    pub async fn send(&self) -> (Outcome, u32) {
        let deadline = Instant::now() + self.timeout;
        let session = self.session();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let code = self.attempt(deadline, &session).await;
            let again = attempts <= self.retries
                && RETRYABLE.contains(&code)
                && deadline > Instant::now() + Duration::from_millis(1);
            if !again {
                return (Outcome::from_code(code), attempts);
            }
        }
    }

    /// The session key of the next request: a client identity drawn from
    /// `sessions` of them (a scrambled counter, so keys interleave as users
    /// do, repeatably), or none.
    fn session(&self) -> String {
        if self.sessions == 0 {
            return String::new();
        }
        let mut z = self
            .sent
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        format!("{}-{}", self.name, z % u64::from(self.sessions))
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
