//! The reference: a bare tonic server for the same `topolab.v1.Replica/Call`
//! method that answers at once (or, given a next address, first makes the
//! same call there and answers when it has), with nothing of topolab in
//! between. It runs as its own process (this binary, `echo-server [NEXT]`),
//! like a replica does.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use topolab_proto::v1::replica_client::ReplicaClient;
use topolab_proto::v1::replica_server::{Replica, ReplicaServer};
use topolab_proto::v1::{CallReply, CallRequest, SubscribeRequest, Update};

/// Answers at once, or after the same call to `next` (a forwarding hop).
struct Echo {
    next: Option<ReplicaClient<Channel>>,
}

#[tonic::async_trait]
impl Replica for Echo {
    async fn call(&self, req: Request<CallRequest>) -> Result<Response<CallReply>, Status> {
        if let Some(next) = &self.next {
            // One HTTP/2 connection, as a topolab replica keeps per callee replica.
            next.clone().call(req.into_inner()).await?;
        }
        Ok(Response::new(CallReply::default()))
    }

    type SubscribeStream = futures::stream::BoxStream<'static, Result<Update, Status>>;

    /// The reference serves one unary method only.
    async fn subscribe(
        &self,
        _req: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        Err(Status::unimplemented(
            "the echo reference has no subscriptions",
        ))
    }
}

/// Serves on a loopback port with 2 worker threads (what `#[tokio::main]`
/// gives a bare tonic server on this 2-core machine), printing
/// the address on stdout, until killed; forwards each call to `next` first,
/// if given (`echo-server NEXT`).
pub fn serve_forever(next: Option<String>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        let next = match next {
            Some(addr) => Some(ReplicaClient::new(
                Endpoint::from_shared(format!("http://{addr}"))?
                    .tcp_nodelay(true)
                    .connect_lazy(),
            )),
            None => None,
        };
        // No Nagle on either side, as on a topolab replica.
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .add_service(ReplicaServer::new(Echo { next }))
            .serve_with_incoming(incoming)
            .await?;
        anyhow::Ok(())
    })
}

/// A running echo server process; killed on drop.
pub struct EchoProcess {
    pub addr: String,
    child: Child,
}

/// Starts the echo server as a child process and reads its address.
pub fn spawn() -> anyhow::Result<EchoProcess> {
    spawn_forwarding(None)
}

/// Starts an echo server that forwards every call to `next` before answering.
pub fn spawn_forwarding(next: Option<&str>) -> anyhow::Result<EchoProcess> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("echo-server")
        .args(next)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    Ok(EchoProcess {
        addr: line.trim().to_string(),
        child,
    })
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
