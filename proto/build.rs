//! Compiles `topolab.proto` with the pure-Rust `protox` compiler, so a fresh
//! machine builds topolab with cargo alone (no system `protoc`).

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(["topolab.proto"], ["."])?;
    // `compile_fds` does not write the descriptor set itself; reflection needs it.
    std::fs::write(out.join("topolab_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(fds)?;
    println!("cargo:rerun-if-changed=topolab.proto");
    Ok(())
}
