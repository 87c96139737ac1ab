//! The launcher's own `tracing` events (warnings about collectors, restarts,
//! figures it could not fetch) reach the user: a subscriber writes each one
//! as a line through [`topolab_notice`], so it goes to stderr, or
//! to the dashboard's pane while that is up. `RUST_LOG` chooses the level
//! (default: warnings and errors; errors only with `--quiet`, which prints
//! the summary and nothing else).

use std::io;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the subscriber for this process (the launcher, or a replica,
/// whose stderr is its log file in the run folder).
pub fn init(quiet: bool) {
    let level = if quiet { "error" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Notices)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// Makes one [`Line`] per event.
struct Notices;

impl<'a> MakeWriter<'a> for Notices {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line(Vec::new())
    }
}

/// One formatted event, handed to the notices when it is complete.
struct Line(Vec<u8>);

impl io::Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let text = text.trim_end();
        if !text.is_empty() {
            topolab_notice::say(reword(text));
        }
    }
}

/// `WARN message` reads `warning: message`, as topolab's other lines do.
fn reword(line: &str) -> String {
    let t = line.trim_start();
    for (tag, word) in [("WARN ", "warning: "), ("ERROR ", "error: ")] {
        if let Some(rest) = t.strip_prefix(tag) {
            return format!("{word}{}", rest.trim_start());
        }
    }
    t.to_string()
}
