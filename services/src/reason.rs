//! Every failed call carries its reason. A status made by a replica already
//! has one (`kitchen queue full (10/10)`); a status made by the transport
//! often does not: a connection reset surfaces from tonic as `UNKNOWN` or
//! `CANCELLED` with an empty or generic message. [`explain`] classifies
//! those: a broken or refused connection is `UNAVAILABLE` (as gRPC's own
//! status guide says), said once with the callee's address (the transport
//! nests the same words three deep: "transport error", then "tcp connect
//! error" twice, then the socket's own error), and any status still without
//! a message gets one that names the callee and what is known.

use std::error::Error;
use std::io::ErrorKind;
use std::net::SocketAddr;

use tonic::{Code, Status};

/// Words of the transport's errors (io, hyper, h2) that mean the connection
/// itself broke or could not be made.
const CONNECTION_LOST: &[&str] = &[
    "connection reset",
    "broken pipe",
    "connection refused",
    "connection aborted",
    "connection closed",
    "unexpected eof",
    "stream closed because of a broken pipe",
    "error trying to connect",
    "tcp connect error",
];

/// `status` from a call to `callee` (`service/Endpoint`, or `service#i`) at
/// `addr` (when the caller knows it), with a reason a person can act on:
/// see the module's doc.
pub fn explain(status: Status, callee: &str, addr: Option<SocketAddr>) -> Status {
    let code = status.code();
    if matches!(
        code,
        Code::Unknown | Code::Cancelled | Code::Internal | Code::Unavailable
    ) && let Some(cause) = connection_lost(&status)
    {
        let to = addr.map(|a| format!(" to {a}")).unwrap_or_default();
        let mut s = Status::unavailable(format!("{callee}: connection lost{to} ({cause})"));
        // Keep what the transport said for anyone who reads the metadata.
        *s.metadata_mut() = status.metadata().clone();
        return s;
    }
    if status.message().trim().is_empty() {
        let what = match code {
            Code::Cancelled => "the call was cancelled before an answer (the stream was reset)",
            Code::Unknown => "the answer had no gRPC status (the stream or connection broke)",
            _ => "the callee gave no message",
        };
        return Status::new(code, format!("{callee}: {what}"));
    }
    status
}

/// What broke, when `status` or an error in its source chain says the
/// connection broke: the socket's own error where the chain holds one (the
/// layers above it only say which layer saw it), else the deepest words
/// that say so. Only for a status the transport made: one a server sent (it
/// has a `content-type`) is that server's own answer, even when its message
/// quotes a broken connection further down the chain.
fn connection_lost(status: &Status) -> Option<String> {
    if status.metadata().get("content-type").is_some() {
        return None;
    }
    let mut texts = vec![status.message().to_string()];
    let mut socket = None;
    let mut source = status.source();
    while let Some(e) = source {
        texts.push(e.to_string());
        socket = e.downcast_ref::<std::io::Error>().or(socket);
        source = e.source();
    }
    let deepest = texts.into_iter().rev().find(|t| {
        let lower = t.to_ascii_lowercase();
        CONNECTION_LOST.iter().any(|w| lower.contains(w))
    })?;
    Some(socket.map_or(deepest, said))
}

/// The socket's error in a few plain words, without its `(os error N)`.
fn said(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset".into(),
        ErrorKind::ConnectionAborted => "connection aborted".into(),
        ErrorKind::BrokenPipe => "broken pipe".into(),
        ErrorKind::UnexpectedEof => "connection closed mid-answer".into(),
        ErrorKind::TimedOut => "timed out connecting".into(),
        ErrorKind::NotConnected => "not connected".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_connection_is_unavailable_with_a_message() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "Connection reset by peer",
        );
        let s = Status::from_error(Box::new(io));
        let s = explain(s, "db/Query", None);
        assert_eq!(s.code(), Code::Unavailable);
        assert!(
            s.message().starts_with("db/Query: connection lost ("),
            "{}",
            s.message()
        );
    }

    #[test]
    fn empty_messages_are_explained_and_others_kept() {
        let s = explain(Status::cancelled(""), "db/Query", None);
        assert_eq!(s.code(), Code::Cancelled);
        assert!(s.message().contains("stream was reset"), "{}", s.message());
        let s = explain(Status::unknown(""), "db/Query", None);
        assert!(s.message().contains("no gRPC status"), "{}", s.message());
        let full = Status::resource_exhausted("db queue full (10/10)");
        let s = explain(full, "db/Query", None);
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(s.message(), "db queue full (10/10)");
    }

    /// A refused connection through tonic's own channel: the transport says
    /// "tcp connect error" twice over the socket's error; the reason says
    /// the socket's words once, with the address.
    #[tokio::test]
    async fn a_refused_connection_is_said_once_with_its_address() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let mut client = topolab_proto::v1::replica_client::ReplicaClient::new(channel);
        let status = client
            .call(topolab_proto::v1::CallRequest::default())
            .await
            .unwrap_err();
        let s = explain(status, "db#0/Query", Some(addr));
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(
            s.message(),
            format!("db#0/Query: connection lost to {addr} (connection refused)")
        );
    }
}
