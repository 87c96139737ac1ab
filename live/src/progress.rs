//! The plain progress line, for when stdout is not a terminal: once a second
//! on stderr, elapsed against planned time, the load's counts, its current
//! rate and p99 so far. On a terminal stderr it rewrites one line; into a
//! file or pipe it appends lines.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::Sources;
use super::snapshot::{Snapshot, Taker};
use topolab_notice as notice;

/// Time between two progress lines.
const EVERY: Duration = Duration::from_secs(1);

/// Prints until `done`.
pub fn run(sources: &Sources, done: &AtomicBool) {
    let tty = std::io::stderr().is_terminal();
    let mut taker = Taker::default();
    let mut next = Instant::now() + EVERY;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() < next {
            // Keep the rate window fed between lines.
            continue;
        }
        next += EVERY;
        let line = render(&taker.take(sources), sources.planned);
        notice::progress(&line, tty);
    }
    notice::progress_end();
}

/// One progress line.
pub fn render(s: &Snapshot, planned: Duration) -> String {
    let t = &s.total;
    // Zeros before the first answer would read as measured latency.
    let p99 = if t.ok == 0 {
        "p99 - (no OK response yet)".to_string()
    } else {
        format!("p99 {:.1} ms", t.p99_ms)
    };
    format!(
        "[{:>5.1}/{:.1} s] sent {}  ok {}  rejected {}  timeouts {}  errors {}  sent/s {:.1}  {p99}",
        s.elapsed.as_secs_f64(),
        planned.as_secs_f64(),
        t.sent,
        t.ok,
        t.rejected,
        t.timeouts,
        t.errors,
        t.rate,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_names_every_figure() {
        let mut s = Snapshot {
            elapsed: Duration::from_millis(2500),
            ..Default::default()
        };
        s.total.sent = 10;
        s.total.rate = 4.0;
        let line = render(&s, Duration::from_secs(10));
        assert_eq!(
            line,
            "[  2.5/10.0 s] sent 10  ok 0  rejected 0  timeouts 0  errors 0  sent/s 4.0  p99 - (no OK response yet)"
        );
        s.total.ok = 8;
        s.total.p99_ms = 12.25;
        let line = render(&s, Duration::from_secs(10));
        assert_eq!(
            line,
            "[  2.5/10.0 s] sent 10  ok 8  rejected 0  timeouts 0  errors 0  sent/s 4.0  p99 12.2 ms"
        );
    }
}
