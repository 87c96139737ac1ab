//! When the writer looks at a waiting trace again: each tick of the writer
//! (100 ms) is a generation listing the traces that had spans in it, and a
//! trace is looked at once the generation of its last span has been quiet
//! long enough: 600 ms with its root in, 5 s without (a caller may still be
//! working or waiting on another callee), and never later than 30 s after
//! its first span.
//!
//! A tick costs what arrived rather than a look at every waiting trace: at
//! saturation, scanning them all ten times a second was a sixth of the
//! launcher's CPU.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::ids::TraceKey;

/// How often waiting traces are looked at (one generation).
pub const TICK: Duration = Duration::from_millis(100);
/// A trace whose root is in is complete once nothing came for this long
/// (exporters send every 200 ms).
const QUIET_WITH_ROOT: Duration = Duration::from_millis(600);
/// Without its root, a trace waits this long after its last span.
const QUIET_WITHOUT_ROOT: Duration = Duration::from_secs(5);
/// No trace waits longer than this.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// What the writer knows of a waiting trace when its time comes.
pub struct Seen {
    /// The generation of its last span.
    pub generation: u64,
    pub first: Instant,
    pub has_root: bool,
}

/// The traces that had spans during one tick.
#[derive(Default)]
struct Generation {
    number: u64,
    /// When the tick after it came; `None` while it is being filled.
    ended: Option<Instant>,
    /// Each trace once, in the order of its first span in this generation.
    traces: Vec<TraceKey>,
}

/// The generations still to be looked at, and the rootless traces waiting
/// out their longer quiet.
pub struct Quiet {
    /// Oldest first; the last is the one being filled.
    generations: VecDeque<Generation>,
    /// Traces without their root that were quiet for QUIET_WITH_ROOT, with
    /// when their generation ended, oldest first.
    rootless: VecDeque<(Instant, u64, TraceKey)>,
    /// An emptied generation's buffer, for the next one.
    spare: Vec<TraceKey>,
}

impl Default for Quiet {
    fn default() -> Self {
        Quiet {
            generations: VecDeque::from([Generation::default()]),
            rootless: VecDeque::new(),
            spare: Vec::new(),
        }
    }
}

impl Quiet {
    /// The generation being filled.
    pub fn current(&self) -> u64 {
        self.generations.back().map_or(0, |g| g.number)
    }

    /// Lists trace `id` in the current generation (once per generation: the
    /// caller remembers the generation of a trace's last span).
    pub fn list(&mut self, id: TraceKey) {
        if let Some(g) = self.generations.back_mut() {
            g.traces.push(id);
        }
    }

    /// Ends the current generation at `now` and adds to `due` every trace
    /// whose time has come; `look` says what is known of a waiting trace
    /// (`None`: already decided). A trace may be named twice.
    pub fn tick(
        &mut self,
        now: Instant,
        due: &mut Vec<TraceKey>,
        mut look: impl FnMut(TraceKey) -> Option<Seen>,
    ) {
        // Early in the process's life an instant may not go back that far:
        // then nothing can be that old.
        let cut = |d: Duration| now.checked_sub(d);
        let (root_quiet, quiet, oldest) =
            (cut(QUIET_WITH_ROOT), cut(QUIET_WITHOUT_ROOT), cut(MAX_WAIT));
        let before = |t: Instant, cut: Option<Instant>| cut.is_some_and(|c| t <= c);
        let number = self.current();
        if let Some(last) = self.generations.back_mut() {
            last.ended = Some(now);
        }
        self.generations.push_back(Generation {
            number: number + 1,
            ended: None,
            traces: std::mem::take(&mut self.spare),
        });
        // A trace listed in a generation that ended QUIET_WITH_ROOT ago and
        // not since has had no span for that long.
        while let Some(g) = self.generations.front()
            && g.ended.is_some_and(|t| before(t, root_quiet))
        {
            let mut g = self.generations.pop_front().expect("front exists");
            let ended = g.ended.expect("checked above");
            for &id in &g.traces {
                let Some(seen) = look(id) else {
                    continue;
                };
                let quiet_since = seen.generation == g.number;
                if before(seen.first, oldest) || (quiet_since && seen.has_root) {
                    due.push(id);
                } else if quiet_since {
                    self.rootless.push_back((ended, g.number, id));
                }
            }
            g.traces.clear();
            self.spare = g.traces;
        }
        while let Some(&(ended, number, id)) = self.rootless.front()
            && before(ended, quiet)
        {
            self.rootless.pop_front();
            if look(id).is_some_and(|s| s.generation == number) {
                due.push(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The writer's side, reduced to what `Quiet` asks of it: waiting
    /// traces, spans placed, ticks every 100 ms that decide what is due.
    struct Writer {
        quiet: Quiet,
        open: HashMap<TraceKey, Seen>,
        t0: Instant,
    }

    impl Writer {
        fn place(&mut self, ms: u64, id: TraceKey, root: bool) {
            let generation = self.quiet.current();
            let first = self.t0 + Duration::from_millis(ms);
            let seen = self.open.entry(id).or_insert(Seen {
                generation: u64::MAX,
                first,
                has_root: false,
            });
            seen.has_root |= root;
            if seen.generation != generation {
                seen.generation = generation;
                self.quiet.list(id);
            }
        }

        /// Ticks every 100 ms from `from` to `to` (in ms after `t0`).
        fn tick(&mut self, from: u64, to: u64) {
            for ms in (from..=to).step_by(100) {
                let mut due = Vec::new();
                let open = &self.open;
                self.quiet
                    .tick(self.t0 + Duration::from_millis(ms), &mut due, |id| {
                        open.get(&id).map(|s| Seen { ..*s })
                    });
                for id in due {
                    self.open.remove(&id);
                }
            }
        }

        fn waits(&self, id: TraceKey) -> bool {
            self.open.contains_key(&id)
        }
    }

    #[test]
    fn traces_are_due_once_quiet_long_enough_and_not_before() {
        let (rooted, rootless, busy) = (1, 2, 3);
        let mut w = Writer {
            quiet: Quiet::default(),
            open: HashMap::new(),
            // Far enough from the clock's start that every cut exists.
            t0: Instant::now() + Duration::from_secs(60),
        };
        w.place(0, rooted, true);
        w.place(0, rootless, false);
        w.place(0, busy, false);

        w.tick(100, 600);
        assert!(w.waits(rooted), "decided before 600 ms of quiet");
        w.tick(700, 800);
        assert!(!w.waits(rooted), "not decided after 800 ms of quiet");
        assert!(w.waits(rootless));

        // The busy trace keeps getting spans every 300 ms, without its root.
        for ms in (900..=29_500).step_by(300) {
            w.place(ms, busy, false);
            w.tick(ms, ms + 200);
            if ms == 4_500 {
                assert!(w.waits(rootless), "decided before 5 s");
            }
            if ms == 6_000 {
                assert!(!w.waits(rootless), "rootless kept past 5 s of quiet");
            }
        }
        assert!(w.waits(busy), "a busy trace decided before 30 s");
        w.tick(29_800, 31_000);
        assert!(!w.waits(busy), "a trace waited past 30 s");
        // Nothing is left listed once every trace is decided and quiet.
        w.tick(31_100, 37_000);
        assert!(w.quiet.rootless.is_empty());
        assert!(
            w.quiet.generations.len() <= 8,
            "{} generations",
            w.quiet.generations.len()
        );
    }
}
