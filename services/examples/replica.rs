//! Runs one replica outside the launcher, to poke it with grpcurl or h2load:
//! `cargo run -p topolab-services --example replica -- SPEC.json [ADDR]`, where
//! SPEC.json is a serialized `ReplicaSpec` and ADDR defaults to 127.0.0.1:0.
//! Prints the bound address on stdout, then serves until SIGTERM/SIGINT.

use anyhow::Context;
use topolab_services::{ReplicaSpec, run_process};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().context("usage: replica SPEC.json [ADDR]")?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let spec: ReplicaSpec =
        serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
    let listener = std::net::TcpListener::bind(&addr).with_context(|| format!("binding {addr}"))?;
    println!("{}", listener.local_addr()?);
    run_process(spec, listener)
}
