//! The shaping on a real loopback connection: a delay holds the request's
//! way only, and a partition refuses new connections and holds bytes.

use std::time::Instant;

use tokio::net::TcpListener;

use super::*;

const TEXT: &str = "name: t\nservices:\n  api:\n    endpoints: { Get: { steps: [ { call: db/Q } ] } }\n  db:\n    endpoints: { Q: {} }\nfaults:\n  - { at: 1s, for: 1s, link: api -> db, delay: 50ms }\n  - { at: 1s, for: 1s, link: api <-> db, partition: true }\n";

fn links() -> Arc<Links> {
    let t = topolab_model::load_str("t.yaml", TEXT, &[])
        .unwrap()
        .topology;
    Arc::new(Links {
        network: t.network.clone(),
        service: "api".into(),
        index: 0,
        active: RwLock::default(),
        seed: 1,
        replicas: RwLock::default(),
    })
}

/// An echo server: what it reads it writes back.
async fn echo() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn round_trip(io: &mut TokioIo<tokio::io::DuplexStream>) -> Duration {
    let io = io.inner_mut();
    let t = Instant::now();
    io.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    io.read_exact(&mut buf).await.unwrap();
    t.elapsed()
}

#[tokio::test]
async fn a_delay_holds_the_requests_way_and_nothing_else() {
    let (links, addr) = (links(), echo().await);
    let mut io = links.clone().connect("db".into(), 0, addr).await.unwrap();
    let before = round_trip(&mut io).await;
    links.set_active([0].into());
    let during = round_trip(&mut io).await;
    links.set_active(BTreeSet::new());
    tokio::time::sleep(Duration::from_millis(10)).await;
    let after = round_trip(&mut io).await;
    assert!(before < Duration::from_millis(10), "{before:?}");
    assert!(
        (Duration::from_millis(50)..Duration::from_millis(60)).contains(&during),
        "{during:?}"
    );
    assert!(after < Duration::from_millis(10), "{after:?}");
}

#[tokio::test]
async fn a_partition_refuses_connections_and_holds_bytes_until_lifted() {
    let (links, addr) = (links(), echo().await);
    let mut io = links.clone().connect("db".into(), 0, addr).await.unwrap();
    links.set_active([1].into());
    let refused = links.clone().connect("db".into(), 0, addr).await;
    assert_eq!(
        refused.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    let held = tokio::time::timeout(Duration::from_millis(100), round_trip(&mut io)).await;
    assert!(held.is_err(), "nothing crosses a partition");
    links.set_active(BTreeSet::new());
    let mut buf = [0u8; 4];
    let io = io.inner_mut();
    // The ping held during the partition arrives once it is lifted.
    tokio::time::timeout(Duration::from_secs(1), io.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn the_callee_side_refuses_a_replica_it_is_cut_from_and_no_one_else() {
    let links = links();
    let (db, stranger): (IpAddr, IpAddr) =
        ("10.0.0.2".parse().unwrap(), "10.0.0.9".parse().unwrap());
    links.replicas.write().insert(db, ("db".into(), 0, false));
    assert!(!links.refuses(db));
    links.set_active([1].into());
    assert!(links.refuses(db), "api <-> db is cut");
    assert!(!links.refuses(stranger), "not a replica: let in");
    links.set_active([0].into());
    assert!(!links.refuses(db), "a delay refuses nothing");
}
