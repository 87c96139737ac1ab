//! The pool of a callee's replicas as discovery replaces it.

use super::*;

#[tokio::test]
async fn a_new_set_of_replicas_replaces_the_old_and_keeps_known_channels() {
    let a: SocketAddr = "10.0.0.1:50051".parse().unwrap();
    let b: SocketAddr = "10.0.0.2:50051".parse().unwrap();
    let pool = Pool::new(Balance::RoundRobin, "db", &[a]).unwrap();
    assert!(
        !pool.replace("db", &[a], None, true).unwrap(),
        "same set: nothing to do"
    );
    let before = pool.current();
    assert!(pool.replace("db", &[a, b], None, true).unwrap());
    let now = pool.current();
    assert_eq!(now.addrs, [a, b]);
    assert_eq!(now.peers.len(), 2);
    let mut rng = StdRng::seed_from_u64(1);
    let picks: Vec<usize> = (0..4)
        .map(|_| now.picker.pick("", &mut rng).unwrap())
        .collect();
    assert_eq!(picks, [0, 1, 0, 1], "both replicas are picked");
    assert_eq!(before.addrs, [a], "an attempt keeps the set it picked from");
    assert!(pool.replace("db", &[], None, true).unwrap());
    assert!(pool.current().picker.pick("", &mut rng).is_none());
}
