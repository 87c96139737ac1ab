//! The reference: a bare tonic server for the same `topolab.v1.Replica/Call`
//! method that answers at once, with nothing of topolab in between. It runs
//! as its own process (this binary, `echo-server`), like a replica does.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use tonic::{Request, Response, Status};
use topolab_proto::v1::replica_server::{Replica, ReplicaServer};
use topolab_proto::v1::{CallReply, CallRequest, SubscribeRequest, Update};

struct Echo;

#[tonic::async_trait]
impl Replica for Echo {
    async fn call(&self, _req: Request<CallRequest>) -> Result<Response<CallReply>, Status> {
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

/// Serves on a loopback port with 2 worker threads (like a replica), printing
/// the address on stdout, until killed.
pub fn serve_forever() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tonic::transport::Server::builder()
            .add_service(ReplicaServer::new(Echo))
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
    let mut child = Command::new(std::env::current_exe()?)
        .arg("echo-server")
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
