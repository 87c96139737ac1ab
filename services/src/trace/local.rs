//! The run's own span collector reached on this machine over a Unix socket
//! in Linux's abstract namespace (`unix-abstract:NAME`, gRPC's name for
//! such an address) rather than over TCP loopback.
//!
//! A traced replica at saturation sends its collector ~460 bytes a span.
//! Over loopback TCP every batch goes through the TCP/IP stack and the
//! firewall's hooks on both sides; over a Unix socket the kernel copies the
//! bytes once. On this project's 2-core VM, 235 KB messages cost 0.19 µs of
//! CPU per span's worth over TCP and 0.06 µs over a Unix socket. An
//! abstract name needs no file: nothing is left behind, and the name is
//! gone with the process that bound it.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

/// How an endpoint names an abstract Unix socket.
pub const SCHEME: &str = "unix-abstract:";

/// The endpoint of the abstract socket `name`.
pub fn endpoint(name: &str) -> String {
    format!("{SCHEME}{name}")
}

/// Listens on the abstract socket `name`.
pub fn bind(name: &str) -> io::Result<tokio::net::UnixListener> {
    let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?;
    listener.set_nonblocking(true)?;
    tokio::net::UnixListener::from_std(listener)
}

/// A channel to the abstract socket `name`, connected when first used (and
/// again after a failure, as a TCP channel is).
pub fn channel(name: &str) -> Channel {
    let name = name.to_owned();
    // The URI only names the `:authority` of requests; the connector
    // decides where they go.
    Endpoint::from_static("http://localhost").connect_with_connector_lazy(tower::service_fn(
        move |_: Uri| {
            let name = name.clone();
            async move {
                // A Unix socket's connect does not wait on a network.
                let stream =
                    UnixStream::connect_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?;
                stream.set_nonblocking(true)?;
                Ok::<_, io::Error>(TokioIo::new(tokio::net::UnixStream::from_std(stream)?))
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_taken_is_refused_and_a_missing_one_is_not_found() {
        let name = format!("topolab-test-{}", std::process::id());
        let _held = bind(&name).unwrap();
        assert!(bind(&name).is_err(), "two listeners on one name");
        let missing = SocketAddr::from_abstract_name(format!("{name}-none").as_bytes()).unwrap();
        assert!(UnixStream::connect_addr(&missing).is_err());
    }
}
