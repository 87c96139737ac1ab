//! `topolab`: run microservice topologies as real gRPC processes.
fn main() {}
