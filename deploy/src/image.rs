//! `topolab image`: the container image every replica (and the load driver)
//! runs, built with no registry and no download: `FROM scratch`, plus this
//! very binary and the shared libraries `ldd` says it loads, in a build
//! context generated for the occasion and removed afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the binary sits in the image (also its entrypoint).
pub const BINARY_IN_IMAGE: &str = "/topolab";

/// Why the image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot run `{program}`: {source} (is it installed and on PATH?)")]
    Missing {
        program: &'static str,
        source: std::io::Error,
    },
    #[error("`ldd {binary}` failed: {stderr}")]
    Ldd { binary: PathBuf, stderr: String },
    #[error("preparing the build context in {dir}: {source}")]
    Context {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("`docker build` failed ({status}): {stderr}")]
    Build { status: String, stderr: String },
}

/// The shared libraries `ldd` lists for `binary`, the dynamic loader included
/// (virtual ones like `linux-vdso.so.1` have no file and are left out).
pub fn libraries(binary: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|source| ImageError::Missing {
            program: "ldd",
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // A static binary: `ldd` says so and fails; it needs no libraries.
        if text.contains("statically linked") || text.contains("not a dynamic executable") {
            return Ok(Vec::new());
        }
        return Err(ImageError::Ldd {
            binary: binary.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(parse_ldd(&text))
}

fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// The generated build context: removed when dropped.
struct ContextDir(PathBuf);

impl Drop for ContextDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds the image `tag` from `binary`; returns the libraries it copied.
pub fn build(binary: &Path, tag: &str) -> Result<Vec<PathBuf>, ImageError> {
    let libs = libraries(binary)?;
    let dir = ContextDir(std::env::temp_dir().join(format!(
        "topolab-image-{}-{}",
        std::process::id(),
        tag.replace(['/', ':'], "_")
    )));
    let ctx = |source| ImageError::Context {
        dir: dir.0.clone(),
        source,
    };
    let rootfs = dir.0.join("rootfs");
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(rootfs.join("tmp")).map_err(ctx)?;
    std::fs::create_dir_all(rootfs.join("etc/topolab")).map_err(ctx)?;
    // glibc reads this to resolve names (`tasks.<service>`) through DNS.
    std::fs::write(rootfs.join("etc/nsswitch.conf"), "hosts: files dns\n").map_err(ctx)?;
    copy_into(&rootfs, binary, Path::new(BINARY_IN_IMAGE)).map_err(ctx)?;
    for lib in &libs {
        copy_into(&rootfs, lib, lib).map_err(ctx)?;
    }
    std::fs::write(
        dir.0.join("Dockerfile"),
        format!(
            "FROM scratch\nLABEL org.opencontainers.image.title=topolab\nCOPY rootfs/ /\nENTRYPOINT [\"{BINARY_IN_IMAGE}\"]\n"
        ),
    )
    .map_err(ctx)?;
    let out = Command::new("docker")
        .args(["build", "--quiet", "--tag", tag])
        .arg(&dir.0)
        .output()
        .map_err(|source| ImageError::Missing {
            program: "docker",
            source,
        })?;
    if !out.status.success() {
        return Err(ImageError::Build {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(libs)
}

/// Copies `from` (following symlinks) to `rootfs` + `to`.
fn copy_into(rootfs: &Path, from: &Path, to: &Path) -> std::io::Result<()> {
    let dest = rootfs.join(to.strip_prefix("/").unwrap_or(to));
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, &dest).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_yields_file_paths_only() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text),
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
    }
}
