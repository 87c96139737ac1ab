//! The generator's transport for unary calls: one HTTP/2 connection per
//! replica (opened on first use, and again after it broke) that hands a
//! request's HEADERS and DATA to the connection together, so they leave in
//! one write. tonic's `Channel` (through hyper) opens each stream in the
//! connection's task and lets the body follow only once that task has
//! flushed the HEADERS: two writes a request, and a server woken by the
//! first often went back to sleep before the second arrived. h2load sends
//! both in one write; so do we now.
//!
//! tonic still encodes, decodes and reads the status: [`Wire`] is the
//! service under a `ReplicaClient`. Streams (subscriptions) keep tonic's
//! `Channel`: this sends a request body only once it has all of it.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use h2::client::SendRequest;
use http_body::Frame;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tonic::codegen::http::{self, Uri, uri::Authority};
use tonic::codegen::{Body, BoxFuture, Bytes, Service, StdError};

/// HTTP/2 windows as tonic's client sets them (hyper's defaults are 64 KiB,
/// which would hold a large answer to one window per round trip).
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

/// How long a connection to a replica may take to open before the request
/// fails as UNAVAILABLE rather than waiting out its timeout: a killed
/// container's address answers nothing at all (where a dead local process's
/// port refuses at once), and the generator's own connections are never
/// shaped, so a live replica answers within a millisecond or so.
pub(crate) const CONNECT_LIMIT: std::time::Duration = std::time::Duration::from_millis(250);

/// One replica's connection, shared by every clone.
#[derive(Clone)]
pub struct Wire {
    addr: SocketAddr,
    authority: Authority,
    connection: Arc<Mutex<Slot>>,
}

/// The open connection, if any, and how many have been opened: a
/// connection that ends forgets itself only if it is still the current one.
#[derive(Default)]
struct Slot {
    open: Option<SendRequest<Bytes>>,
    generation: u64,
    /// When the last attempt to connect got no answer within
    /// [`CONNECT_LIMIT`]: for as long again, calls fail at once rather than
    /// each waiting its turn for an attempt of its own (a refused attempt is
    /// not remembered: a local replica restarted is back within milliseconds).
    unanswered: Option<std::time::Instant>,
}

impl Wire {
    /// A transport to `addr`; nothing is opened until the first call.
    pub fn new(addr: SocketAddr) -> anyhow::Result<Self> {
        Ok(Wire {
            addr,
            authority: addr.to_string().parse()?,
            connection: Arc::default(),
        })
    }

    /// The open connection, or a new one (its task runs on this runtime).
    async fn connection(&self) -> Result<SendRequest<Bytes>, StdError> {
        let mut slot = self.connection.lock().await;
        if let Some(open) = &slot.open {
            return Ok(open.clone());
        }
        let unanswered = || {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("tcp connect error: no answer within {CONNECT_LIMIT:?}"),
            )
        };
        if slot.unanswered.is_some_and(|t| t.elapsed() < CONNECT_LIMIT) {
            return Err(unanswered().into());
        }
        let Ok(tcp) = tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(self.addr)).await
        else {
            slot.unanswered = Some(std::time::Instant::now());
            return Err(unanswered().into());
        };
        let tcp = tcp?;
        slot.unanswered = None;
        tcp.set_nodelay(true)?;
        let (send, connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake(tcp)
            .await?;
        slot.generation += 1;
        slot.open = Some(send.clone());
        let (shared, generation) = (self.connection.clone(), slot.generation);
        tokio::spawn(async move {
            // Ended (closed, broken or refused): the next call opens another.
            let _ = connection.await;
            let mut slot = shared.lock().await;
            if slot.generation == generation {
                slot.open = None;
            }
        });
        Ok(send)
    }

    /// Sends `request` whole and returns the answer's head; its body (the
    /// message and the status trailers) is read as tonic polls it.
    async fn send(
        self,
        request: http::Request<tonic::body::Body>,
    ) -> Result<http::Response<Answer>, StdError> {
        let (mut head, mut body) = request.into_parts();
        // tonic's body of a unary request holds the encoded message at once.
        // Its chunks are sent as they are (one, unless the message is large).
        let mut chunks = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            if let Ok(data) = frame?.into_data() {
                chunks.push(data);
            }
        }
        let path = head.uri.path_and_query().cloned();
        let mut uri = Uri::builder()
            .scheme("http")
            .authority(self.authority.clone());
        if let Some(path) = path {
            uri = uri.path_and_query(path);
        }
        head.uri = uri.build()?;
        let send = self.connection().await?;
        let mut send = send.ready().await?;
        let (answer, mut stream) =
            send.send_request(http::Request::from_parts(head, ()), chunks.is_empty())?;
        // Buffered by h2 and written with the HEADERS by the connection's
        // next flush (within the stream's window; the rest as it opens).
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            stream.send_data(chunk, i + 1 == n)?;
        }
        let (head, recv) = answer.await?.into_parts();
        Ok(http::Response::from_parts(
            head,
            Answer {
                recv,
                data_done: false,
                done: false,
            },
        ))
    }
}

impl Service<http::Request<tonic::body::Body>> for Wire {
    type Response = http::Response<Answer>;
    type Error = StdError;
    type Future = BoxFuture<Self::Response, Self::Error>;

    /// Always ready: a call waits for its connection and for room for its
    /// stream (the server's stream limit) in its own future.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.clone().send(request))
    }
}

/// The answer's body: its DATA (flow control released as it is read), then
/// its trailers (where gRPC puts the status).
pub struct Answer {
    recv: h2::RecvStream,
    data_done: bool,
    done: bool,
}

impl Body for Answer {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if !self.data_done {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => self.data_done = true,
            }
        }
        let trailers = ready!(self.recv.poll_trailers(cx));
        self.done = true;
        match trailers {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::oneshot;
    use tonic::{Code, Request, Response, Status};
    use topolab_proto::v1::replica_client::ReplicaClient;
    use topolab_proto::v1::replica_server::{Replica, ReplicaServer};
    use topolab_proto::v1::{CallReply, CallRequest, SubscribeRequest, Update};

    /// Answers `Full` with RESOURCE_EXHAUSTED, anything else with the
    /// version after the one the caller knows and its payload's length.
    struct Answering;

    #[tonic::async_trait]
    impl Replica for Answering {
        async fn call(&self, req: Request<CallRequest>) -> Result<Response<CallReply>, Status> {
            let req = req.into_inner();
            if req.endpoint == "Full" {
                return Err(Status::resource_exhausted("queue full (1/1)"));
            }
            Ok(Response::new(CallReply {
                version: req.known_version + 1 + req.payload.len() as u64,
                ..Default::default()
            }))
        }

        type SubscribeStream = futures::stream::BoxStream<'static, Result<Update, Status>>;

        async fn subscribe(
            &self,
            _: Request<SubscribeRequest>,
        ) -> Result<Response<Self::SubscribeStream>, Status> {
            Err(Status::unimplemented("no subscriptions here"))
        }
    }

    /// Serves on `addr` until the returned sender is dropped or fired.
    async fn serve(addr: SocketAddr) -> (SocketAddr, oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(ReplicaServer::new(Answering))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                }),
        );
        (addr, stop)
    }

    fn call(endpoint: &str, payload: usize) -> CallRequest {
        CallRequest {
            endpoint: endpoint.into(),
            payload: vec![7; payload],
            known_version: 41,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn answers_and_statuses_come_back_through_tonic() {
        let (addr, _stop) = serve("127.0.0.1:0".parse().unwrap()).await;
        let mut client = ReplicaClient::new(Wire::new(addr).unwrap());
        let reply = client.call(call("Echo", 0)).await.unwrap().into_inner();
        assert_eq!(reply.version, 42);
        // A message larger than one HTTP/2 frame, and the connection reused.
        let reply = client.call(call("Echo", 100_000)).await.unwrap();
        assert_eq!(reply.into_inner().version, 100_042);
        let status = client.call(call("Full", 0)).await.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "queue full (1/1)");
    }

    #[tokio::test]
    async fn a_lost_server_is_unavailable_and_a_new_one_is_reached() {
        let (addr, stop) = serve("127.0.0.1:0".parse().unwrap()).await;
        let mut client = ReplicaClient::new(Wire::new(addr).unwrap());
        client.call(call("Echo", 0)).await.unwrap();
        stop.send(()).unwrap();
        // The old connection closes; calls are refused until a server is back.
        let mut refused = None;
        for _ in 0..100 {
            match client.call(call("Echo", 0)).await {
                Err(status) => {
                    refused = Some(topolab_services::reason::explain(status, "s#0", Some(addr)));
                    break;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let refused = refused.expect("calls still answered after the server stopped");
        assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
        // Refused, or reset if the old connection is still closing: said
        // once, with the address.
        let said = refused.message();
        assert!(
            said.starts_with(&format!("s#0: connection lost to {addr} (")),
            "{said}"
        );
        assert!(!said.contains("os error"), "{said}");
        let (_, _stop) = serve(addr).await;
        let reply = client.call(call("Echo", 0)).await.unwrap();
        assert_eq!(reply.into_inner().version, 42);
    }
}
