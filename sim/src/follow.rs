//! The following clients in the simulator, as `load/src/updates/` runs them:
//! `poll` (the first ask at a random point of the interval, then one every
//! interval), `long_poll` (a request the replica holds; ask again at once)
//! and `subscribe` (one stream, opened once per turn, closed when the turn
//! ends). A failed long poll or stream tries again after a growing,
//! jittered backoff. What each client holds is counted by the same
//! [`Freshness`] the launcher's clients count with.

use rand::Rng;
use topolab_figures::Freshness;
use topolab_model::shape::{active_until, next_active};
use topolab_model::{Follow, Generator, Pattern, StatusCode, Timeline, Topology};
use topolab_rules::retry::retryable;

use crate::engine::{Event, Nanos};
use crate::versions::Ask;
use crate::world::World;

const NS: f64 = 1e9;
const NONE: u32 = u32::MAX;
/// First wait after a failed long poll or stream, doubled per failure up
/// to [`MAX_BACKOFF`] and jittered (the launcher's clients' own).
const FIRST_BACKOFF: Nanos = 100_000_000;
const MAX_BACKOFF: Nanos = 2_000_000_000;

/// A following generator's clients.
#[derive(Debug)]
pub struct Followers {
    way: Follow,
    /// What the clients held and when: the summary's staleness figures.
    pub(crate) freshness: Freshness,
    /// The newest version each client holds.
    known: Vec<u64>,
    active: Vec<bool>,
    /// The stream each subscriber holds open (or is opening), `NONE` if none.
    stream: Vec<u32>,
    backoff: Vec<Nanos>,
    /// When each client's next wake is due: any other wake is stale.
    due: Vec<Nanos>,
    /// The hold each client's long poll in flight asks for.
    hold: Vec<Nanos>,
}

impl Followers {
    /// The clients of `g` if it follows a service's data (`None` otherwise).
    pub fn new(t: &Topology, g: &Generator, seed: u64) -> Option<Box<Followers>> {
        let way = g.follow?;
        let gaps = t.data_of(&g.target.service)?.updates?;
        let start = g.start.as_nanos() as Nanos;
        let Pattern::Closed { stages, .. } = &g.pattern else {
            return None;
        };
        let n = stages.iter().map(|s| s.clients).max().unwrap_or(0);
        let data = &t.data_of(&g.target.service)?.name;
        let timeline = Timeline::new(seed, data, gaps);
        let each = |v: Nanos| vec![v; n as usize];
        Some(Box::new(Followers {
            way,
            freshness: Freshness::new(timeline, n),
            known: each(0),
            active: vec![false; n as usize],
            stream: vec![NONE; n as usize],
            backoff: each(FIRST_BACKOFF),
            due: each(start),
            hold: each(0),
        }))
    }
}

impl World<'_> {
    fn followers(&mut self, g: u32) -> &mut Followers {
        // Cannot fail: only called for generators found to follow.
        self.gens[g as usize]
            .follow
            .as_deref_mut()
            .expect("a follower")
    }

    /// Client `c` wakes at `at` (at the latest when its generator ends).
    fn wake_at(&mut self, g: u32, c: u32, at: Nanos) {
        let at = at.min(self.gens[g as usize].end).max(self.now);
        self.followers(g).due[c as usize] = at;
        self.queue.push(
            at,
            Event::ClientWake {
                generator: g,
                client: c,
            },
        );
    }

    /// Client `c` of `g` wakes: its stream (if open) ends with its turn; it
    /// waits for its next turn, starts, or asks.
    pub(crate) fn follow_wake(&mut self, g: u32, c: u32) {
        // Taken once: another wake due at the same instant (two causes
        // clamped to the generator's end) is stale too.
        let now = self.now;
        let due = &mut self.followers(g).due[c as usize];
        if *due != now {
            return;
        }
        *due = Nanos::MAX;
        let open = std::mem::replace(&mut self.followers(g).stream[c as usize], NONE);
        if open != NONE {
            let hop = self.hop;
            self.queue
                .push(self.now + hop, Event::StreamClosed { stream: open });
        }
        let gs = &self.gens[g as usize];
        let t = self.now.saturating_sub(gs.start) as f64 / NS;
        match next_active(&gs.clients, c, t) {
            Some(turn) if turn > t => {
                let at = gs.start + (turn * NS).ceil() as Nanos;
                self.followers(g).active[c as usize] = false;
                let f = self.followers(g);
                f.due[c as usize] = at;
                self.queue.push(
                    at,
                    Event::ClientWake {
                        generator: g,
                        client: c,
                    },
                );
            }
            Some(_) if self.now < gs.end => {
                let now = self.now;
                let f = self.followers(g);
                if !f.active[c as usize] {
                    f.active[c as usize] = true;
                    f.freshness.start(c, std::time::Duration::from_nanos(now));
                    // Pollers do not start in lockstep (the launcher's offset).
                    if let Follow::Poll { interval } = f.way {
                        let u: f64 = self.gens[g as usize].rng.random();
                        let offset = (interval.as_nanos() as f64 * u) as Nanos;
                        self.wake_at(g, c, now + offset);
                        return;
                    }
                }
                match self.followers(g).way {
                    Follow::Subscribe => self.open_stream(g, c),
                    Follow::Poll { .. } => self.ask(g, c, None),
                    Follow::LongPoll { timeout } => self.ask(g, c, Some(timeout)),
                }
            }
            _ => self.client_done(g),
        }
    }

    /// When client `c`'s turn ends (its stretch of stages, or the end).
    fn turn_ends(&self, g: u32, c: u32) -> Nanos {
        let gs = &self.gens[g as usize];
        let t = self.now.saturating_sub(gs.start) as f64 / NS;
        let until = gs.start + (active_until(&gs.clients, c, t) * NS) as Nanos;
        until.min(gs.end)
    }

    /// One poll or long poll; a long poll is held no longer than the
    /// client's turn.
    fn ask(&mut self, g: u32, c: u32, long_poll: Option<std::time::Duration>) {
        let hold = long_poll.map_or(0, |lp| {
            let left = self.turn_ends(g, c).saturating_sub(self.now);
            (lp.as_nanos() as Nanos).min(left).max(1_000_000)
        });
        self.followers(g).hold[c as usize] = hold;
        let (root, k) = self.new_root(g, c, hold);
        self.attempt_asking(root, k, g, c);
    }

    fn attempt_asking(&mut self, root: u32, k: usize, g: u32, c: u32) {
        let job = self.root_attempt(root, k);
        let f = self.followers(g);
        let (known, hold) = (f.known[c as usize], f.hold[c as usize]);
        let service = self.jobs.items[job as usize].service;
        let token = self.jobs.items[job as usize].token;
        if hold > 0
            && let Some(up) = self.updates.as_deref_mut()
            && up.changes(service)
        {
            up.asks.insert(job, Ask { token, known, hold });
        }
    }

    /// Opens client `c`'s stream.
    fn open_stream(&mut self, g: u32, c: u32) {
        let (root, k) = self.new_root(g, c, 0);
        let job = self.root_attempt(root, k);
        let known = self.followers(g).known[c as usize];
        let s = self.stream_sent(job, g, c, known);
        self.followers(g).stream[c as usize] = s;
    }

    /// A following client's request or stream opening ended with `code`.
    pub(crate) fn follow_reply(&mut self, root: u32, code: StatusCode) {
        let r = &self.roots.items[root as usize];
        let (g, c, attempts, deadline) = (r.generator, r.client, r.attempts, r.deadline);
        self.queue.cancel(r.timer);
        let way = self.followers(g).way;
        let retries = self.gens[g as usize].retries;
        let again = !matches!(way, Follow::Subscribe)
            && attempts <= retries
            && retryable(code)
            && deadline > self.now + 1_000_000;
        if again {
            self.attempt_asking(root, 0, g, c);
            return;
        }
        self.end_root(root, code);
        let ok = code == crate::OK;
        if ok {
            self.followers(g).backoff[c as usize] = FIRST_BACKOFF;
        }
        match way {
            Follow::Poll { .. } | Follow::LongPoll { .. } if ok => {
                // The replica answered a hop ago with the version it held then.
                let answered = std::time::Duration::from_nanos(self.now - self.hop);
                let f = self.followers(g);
                let version = f.freshness.version_at(answered);
                self.holds(g, c, version);
            }
            Follow::Subscribe if ok => {
                let end = self.turn_ends(g, c);
                self.wake_at(g, c, end);
                return;
            }
            Follow::Subscribe => {
                let s = std::mem::replace(&mut self.followers(g).stream[c as usize], NONE);
                if s != NONE {
                    if code == crate::RESOURCE_EXHAUSTED {
                        self.stream_refused(s);
                    }
                    self.stream_abandoned(s);
                }
            }
            _ => {}
        }
        if !ok {
            self.followers(g).freshness.reconnect();
        }
        let pause = match (way, ok) {
            (Follow::Poll { interval }, _) => interval.as_nanos() as Nanos,
            (_, true) => 0,
            (_, false) => self.next_backoff(g, c),
        };
        self.wake_at(g, c, self.now + pause);
    }

    /// Client `c` of `g` holds `version` now.
    fn holds(&mut self, g: u32, c: u32, version: u64) {
        let now = std::time::Duration::from_nanos(self.now);
        let f = self.followers(g);
        f.known[c as usize] = f.known[c as usize].max(version);
        f.freshness.held(c, version, now, |_| {});
    }

    fn next_backoff(&mut self, g: u32, c: u32) -> Nanos {
        let b = self.followers(g).backoff[c as usize];
        self.followers(g).backoff[c as usize] = (b * 2).min(MAX_BACKOFF);
        let jitter: f64 = self.gens[g as usize].rng.random_range(0.5..1.0);
        (b as f64 * jitter) as Nanos
    }

    /// A pushed message reaches its subscriber.
    pub(crate) fn stream_message(&mut self, stream: u32, version: u64) {
        let Some(up) = self.updates.as_deref() else {
            return;
        };
        let (g, c) = {
            let st = &up.streams[stream as usize];
            (st.generator, st.client)
        };
        if self.followers(g).stream[c as usize] == stream {
            self.holds(g, c, version);
        }
    }

    /// Stream `stream` broke (its replica was killed): its client reopens
    /// after a backoff.
    pub(crate) fn stream_broken(&mut self, stream: u32) {
        let Some(up) = self.updates.as_deref() else {
            return;
        };
        let st = &up.streams[stream as usize];
        let (g, c) = (st.generator, st.client);
        if self.followers(g).stream[c as usize] != stream {
            return;
        }
        self.followers(g).stream[c as usize] = NONE;
        self.followers(g).freshness.reconnect();
        let pause = self.next_backoff(g, c);
        self.wake_at(g, c, self.now + pause);
    }

    /// Every follower's figures closed at its generator's end.
    pub(crate) fn close_followers(&mut self) {
        for (i, gs) in self.gens.iter_mut().enumerate() {
            if let Some(f) = gs.follow.take() {
                let mut fresh = f.freshness;
                let end = self.figures.load[i].issue_end.unwrap_or(gs.end);
                fresh.close(std::time::Duration::from_nanos(end));
                self.figures.freshness[i] = Some(fresh);
            }
        }
    }
}
