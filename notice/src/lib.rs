//! Lines the run tells the user while it goes on: faults applied and cleared,
//! restarts, warnings (the launcher's own `tracing` events included). They go
//! to stderr, except while the dashboard owns the terminal: then they are
//! held, shown in the dashboard's pane, and printed to stderr once it is put
//! away, so they land in the scrollback and never write over the frame.
//!
//! It owns the terminal's stderr while a run goes on and nothing else: it
//! knows no run, replica or figure.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::io::Write;

/// Lines held while the dashboard is up; older ones are dropped and counted,
/// so a run that logs without pause cannot grow the launcher's memory.
pub const HELD_MAX: usize = 1000;

/// Where notices go now.
#[derive(Default)]
struct State {
    /// True while a dashboard holds the terminal.
    holding: bool,
    held: VecDeque<String>,
    /// Held lines dropped because [`HELD_MAX`] were already held.
    dropped: u64,
    /// True while a progress line is being rewritten in place on stderr: a
    /// notice then clears it first, and the next progress line redraws it.
    progress_open: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    holding: false,
    held: VecDeque::new(),
    dropped: 0,
    progress_open: false,
});

fn state() -> parking_lot::MutexGuard<'static, State> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    STATE.lock()
}

/// Tells the user one line (or several, separated by newlines).
pub fn say(line: impl Into<String>) {
    let line = line.into();
    let mut s = state();
    if s.holding {
        for l in line.lines() {
            if s.held.len() == HELD_MAX {
                s.held.pop_front();
                s.dropped += 1;
            }
            s.held.push_back(l.to_string());
        }
        return;
    }
    let mut err = std::io::stderr().lock();
    if s.progress_open {
        let _ = write!(err, "\r\x1b[K");
        s.progress_open = false;
    }
    let _ = writeln!(err, "{line}");
}

/// The last `n` held lines, oldest first, for the dashboard's pane.
pub fn recent(n: usize) -> Vec<String> {
    let s = state();
    s.held
        .iter()
        .skip(s.held.len().saturating_sub(n))
        .cloned()
        .collect()
}

/// Whether any line is held (the dashboard shows its pane only then).
pub fn any_held() -> bool {
    !state().held.is_empty()
}

/// Writes the live progress line to stderr: on a terminal rewritten in
/// place (a notice clears it first), elsewhere appended as a line of its own.
pub fn progress(line: &str, rewrite: bool) {
    let mut s = state();
    let mut err = std::io::stderr().lock();
    let _ = if rewrite {
        write!(err, "\r{line}\x1b[K")
    } else {
        writeln!(err, "{line}")
    };
    let _ = err.flush();
    s.progress_open = rewrite;
}

/// Ends an open progress line, so what follows starts on a line of its own.
pub fn progress_end() {
    let mut s = state();
    if std::mem::take(&mut s.progress_open) {
        let _ = writeln!(std::io::stderr().lock());
    }
}

/// Holds notices until the returned guard is dropped (after the dashboard has
/// given the terminal back); then prints every held line to stderr.
#[must_use = "notices are held only while the guard lives"]
pub fn hold() -> Held {
    state().holding = true;
    Held(())
}

/// While alive, notices are held rather than printed; see [`hold`].
pub struct Held(());

impl Drop for Held {
    fn drop(&mut self) {
        let mut s = state();
        s.holding = false;
        let lines: Vec<String> = s.held.drain(..).collect();
        let dropped = std::mem::take(&mut s.dropped);
        drop(s);
        let mut err = std::io::stderr().lock();
        if dropped > 0 {
            let _ = writeln!(
                err,
                "({dropped} earlier line(s) of the run were not kept; the last {HELD_MAX} follow)"
            );
        }
        for l in lines {
            let _ = writeln!(err, "{l}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test owns the global state (tests run in parallel threads).
    #[test]
    fn held_lines_are_bounded_counted_and_released() {
        let guard = hold();
        for i in 0..HELD_MAX + 5 {
            say(format!("line {i}"));
        }
        assert!(any_held());
        assert_eq!(state().dropped, 5);
        assert_eq!(
            recent(2),
            vec![
                format!("line {}", HELD_MAX + 3),
                format!("line {}", HELD_MAX + 4)
            ]
        );
        say("two\nlines");
        assert_eq!(recent(2), vec!["two".to_string(), "lines".to_string()]);
        drop(guard);
        assert!(!any_held());
        assert_eq!(state().dropped, 0);
        assert!(!state().holding);
    }
}
