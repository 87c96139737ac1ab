//! An append-only file written around the page cache (`O_DIRECT`), for
//! `traces.jsonl`. A fully traced run writes tens of MB a second; through
//! the page cache each new page is allocated, zeroed and copied into by the
//! kernel, and on the 2-core VM we measure on that costs ~1.7 ms of CPU per
//! MB (likely because the VM hands free memory back to its host, so fresh
//! pages fault there too): a fifth of the writer's time.
//! Written directly from one reused buffer it costs ~0.1 ms per MB
//! (`dd bs=1M` of 400 MB: 0.69 s of system time buffered, 0.05 s direct).
//!
//! Direct writes must be whole aligned blocks, so the buffer is a block-
//! aligned window of the file: whole blocks go out directly, and on
//! [`Appender::flush`] the part-block at the end goes through an ordinary
//! descriptor, so the file always ends where the text does; it is rewritten
//! directly once its block fills. Where the file system refuses direct
//! writes (tmpfs before Linux 6.6, some network file systems), everything
//! goes through the ordinary descriptor instead.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// The alignment of direct writes: a page, which covers every common
/// logical block size (512 B or 4 KiB).
const BLOCK: usize = 4096;
/// The window: 256 blocks (1 MiB) written at a time.
const WINDOW: usize = 256 * BLOCK;

/// An open file being appended to.
pub struct Appender {
    /// The ordinary descriptor: the part-block at the end, or everything
    /// when `direct` is `None`.
    plain: File,
    /// The same file opened `O_DIRECT`, where the file system allows it.
    direct: Option<File>,
    /// `WINDOW + BLOCK` bytes, so that a block-aligned window fits in it.
    buf: Vec<u8>,
    /// Where in `buf` the aligned window starts.
    start: usize,
    /// Bytes of the window filled.
    filled: usize,
    /// The file offset of the window's first byte (a multiple of `BLOCK`).
    at: u64,
}

impl Appender {
    /// Creates (or empties) the file at `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        let plain = File::create(path)?;
        let direct = OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(path)
            .ok();
        let buf = vec![0u8; WINDOW + BLOCK];
        let start = buf.as_ptr().align_offset(BLOCK);
        Ok(Appender {
            plain,
            direct,
            buf,
            start,
            filled: 0,
            at: 0,
        })
    }

    /// Appends `data`; whole windows are written as they fill.
    pub fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = data.len().min(WINDOW - self.filled);
            let from = self.start + self.filled;
            self.buf[from..from + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == WINDOW {
                self.write_blocks()?;
            }
        }
        Ok(())
    }

    /// Puts everything appended so far in the file: the whole blocks
    /// directly, the part-block after them through the page cache.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_blocks()?;
        if self.filled > 0 {
            let tail = &self.buf[self.start..self.start + self.filled];
            self.plain.write_all_at(tail, self.at)?;
        }
        Ok(())
    }

    /// Writes the window's whole blocks and moves the part-block left over
    /// to the window's start.
    fn write_blocks(&mut self) -> io::Result<()> {
        let whole = self.filled / BLOCK * BLOCK;
        if whole == 0 {
            return Ok(());
        }
        let window = &self.buf[self.start..self.start + whole];
        match &self.direct {
            Some(direct) => match direct.write_all_at(window, self.at) {
                Ok(()) => {}
                // Direct writes refused after all (an alignment this file
                // system wants larger): from now on, through the page cache.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                    self.direct = None;
                    self.plain.write_all_at(window, self.at)?;
                }
                Err(e) => return Err(e),
            },
            None => self.plain.write_all_at(window, self.at)?,
        }
        self.at += whole as u64;
        let from = self.start + whole;
        self.buf
            .copy_within(from..self.start + self.filled, self.start);
        self.filled -= whole;
        Ok(())
    }
}

/// As `BufWriter` does: what was appended reaches the file even when the
/// owner drops it without a last flush (an error path); errors are ignored.
impl Drop for Appender {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder on the disk the build is on (beside the test binary, under
    /// `target/`), not `/tmp`, which is a tmpfs on many machines and
    /// refused `O_DIRECT` before Linux 6.6: the direct path is only tested
    /// where it can be taken.
    fn on_disk() -> tempfile::TempDir {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/<test binary>: the profile's folder.
        let dir = exe.ancestors().nth(2).unwrap();
        tempfile::tempdir_in(dir).unwrap()
    }

    /// Whether this folder's file system takes an aligned direct write,
    /// found without the code under test: what its path should be.
    fn takes_direct_writes(dir: &Path) -> bool {
        let path = dir.join("probe");
        let Ok(f) = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(&path)
        else {
            return false;
        };
        let buf = vec![b'x'; 2 * BLOCK];
        let start = buf.as_ptr().align_offset(BLOCK);
        let written = f.write_all_at(&buf[start..start + BLOCK], 0).is_ok();
        let _ = std::fs::remove_file(&path);
        written
    }

    /// Lines of every length, flushed at odd moments, across several
    /// windows: the file is exactly what was appended at every flush.
    /// Returns whether the whole blocks still went out directly at the end.
    fn appends_exactly(dir: &Path, direct: bool) -> bool {
        let path = dir.join("f.jsonl");
        let mut f = Appender::create(&path).unwrap();
        if !direct {
            f.direct = None;
        }
        let mut expected = Vec::new();
        for i in 0..3_000usize {
            let line = format!("{}{}\n", i, "x".repeat(i * 7 % 2_900));
            f.write_all(line.as_bytes()).unwrap();
            expected.extend_from_slice(line.as_bytes());
            if i % 97 == 0 {
                f.flush().unwrap();
                assert_eq!(std::fs::read(&path).unwrap(), expected, "after line {i}");
            }
        }
        f.flush().unwrap();
        assert!(expected.len() > 3 * WINDOW);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        f.direct.is_some()
    }

    #[test]
    fn what_was_appended_is_in_the_file_once_dropped() {
        let dir = on_disk();
        let path = dir.path().join("f.jsonl");
        let mut f = Appender::create(&path).unwrap();
        let text = "a line\n".repeat(1_000);
        f.write_all(text.as_bytes()).unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    /// Where the file system takes direct writes, every whole block went
    /// out directly (a write refused would have dropped to the page cache
    /// for good); where it does not, the page cache took them all.
    #[test]
    fn the_file_is_what_was_appended_at_every_flush() {
        let dir = on_disk();
        let can = takes_direct_writes(dir.path());
        let took = appends_exactly(dir.path(), true);
        eprintln!(
            "{}: O_DIRECT {}, path taken: {}",
            dir.path().display(),
            if can { "works" } else { "refused" },
            if took { "direct" } else { "page cache" }
        );
        assert_eq!(
            took,
            can,
            "the path taken does not match what {} allows",
            dir.path().display()
        );
    }

    /// As where the file system refuses `O_DIRECT`.
    #[test]
    fn through_the_page_cache_alone_the_file_is_the_same() {
        let dir = on_disk();
        assert!(!appends_exactly(dir.path(), false));
    }
}
