//! Generated gRPC types for the replica protocol (`topolab.v1`), plus the encoded
//! descriptor set that server reflection serves so `grpcurl` can discover it,
//! and the span attribute keys ([`span_keys`]) that writers and readers share.
//!
//! It owns the wire contract and nothing that acts on it: no server, client
//! or figure lives here.

pub mod span_keys;

/// Messages and services of `topolab.proto`.
pub mod v1 {
    tonic::include_proto!("topolab.v1");
}

/// The encoded `FileDescriptorSet` of `topolab.proto`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("topolab_descriptor");
