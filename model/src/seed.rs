//! Seeds derived from the run's seed and names: one stable hash (FNV-1a,
//! the same on every machine and Rust version, unlike std's hasher) and one
//! mixer, shared by replicas, version timelines and sticky balancing so that
//! every process derives the same numbers from the same names.

/// FNV-1a over `bytes`: stable across processes, machines and Rust versions.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// splitmix64's finaliser: spreads nearby inputs (seed 42 and 43, replica 0
/// and 1) over the whole range.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A per-replica seed: the run's seed mixed with the service name and index,
/// so replicas draw different but repeatable streams.
pub fn replica_seed(seed: u64, service: &str, index: u32) -> u64 {
    splitmix64(seed ^ splitmix64(fnv1a(service.bytes()) ^ u64::from(index)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_seeds_differ_and_repeat() {
        assert_eq!(replica_seed(42, "db", 0), replica_seed(42, "db", 0));
        assert_ne!(replica_seed(42, "db", 0), replica_seed(42, "db", 1));
        assert_ne!(replica_seed(42, "db", 0), replica_seed(42, "api", 0));
        assert_ne!(replica_seed(42, "db", 0), replica_seed(43, "db", 0));
    }
}
