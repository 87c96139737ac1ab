//! How large a message a replica takes: gRPC's limit on a decoded request,
//! 4 MiB by tonic's default. A replica sets it on its server from here and
//! the simulator turns away a larger request as the replica does, before
//! any handler (or count of the endpoint) sees it, with `OUT_OF_RANGE`.

/// The largest request a replica decodes, in bytes.
pub const MAX_REQUEST: u64 = 4 * 1024 * 1024;

/// Whether a request of `bytes` is decoded (else refused `OUT_OF_RANGE`).
pub fn fits(bytes: u64) -> bool {
    bytes <= MAX_REQUEST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_mebibytes_fit_and_one_byte_more_does_not() {
        assert!(fits(0));
        assert!(fits(4 << 20));
        assert!(!fits((4 << 20) + 1));
    }
}
