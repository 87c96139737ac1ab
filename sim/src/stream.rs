//! A subscription at its replica, as `services/src/updates/stream.rs` has it:
//! the opening request passes the queue like any (a full queue refuses it)
//! and ends, OK, when it gets a worker, with no work of its own; in
//! `blocking` the stream then keeps that worker while open, in `async` it
//! lets it go. Every version newer than the stream's last runs the
//! endpoint's steps (a fiber of the stream's job, queueing for a worker in
//! `async` as a later `work` step does) and is pushed as one message; a
//! push that finds newer versions meanwhile pushes the newest next.

use crate::engine::{Event, Nanos};
use crate::thread::Message;
use crate::versions::{Stream, StreamState};
use crate::world::World;

/// A fiber's parent when it runs a push of its stream's job.
pub(crate) const PUSH: u32 = u32::MAX - 1;

impl World<'_> {
    fn stream_state(&mut self, s: u32) -> &mut Stream {
        // Cannot fail: streams are only named once created, and never removed.
        &mut self.updates.as_deref_mut().expect("updates").streams[s as usize]
    }

    /// Client `client` of `generator` opens a stream with the request now
    /// sent as `job`: its replica will know the job for a subscription.
    pub(crate) fn stream_sent(&mut self, job: u32, generator: u32, client: u32, known: u64) -> u32 {
        let job_token = self.jobs.items[job as usize].token;
        let up = self.updates.as_deref_mut().expect("updates");
        up.streams.push(Stream {
            generator,
            client,
            job,
            job_token,
            state: StreamState::Opening,
            known,
            pushing: None,
        });
        let s = (up.streams.len() - 1) as u32;
        up.stream_of.insert(job, s);
        s
    }

    /// The job given a worker is a subscription: it opens (true), or is
    /// dropped if its client gave up meanwhile.
    pub(crate) fn stream_opens(&mut self, job: u32) -> bool {
        let up = self.updates.as_deref_mut().expect("updates");
        let Some(&s) = up.stream_of.get(&job) else {
            return false;
        };
        let j = &self.jobs.items[job as usize];
        let st = &mut up.streams[s as usize];
        if st.job_token != j.token {
            return false;
        }
        let (r, svc, e) = (j.rep, j.service, j.endpoint);
        if st.state == StreamState::Abandoned {
            // Its client's cancellation reached the replica: nothing counted.
            st.state = StreamState::Closed;
            up.stream_of.remove(&job);
            self.free_job(job);
            self.release_worker(r);
            return true;
        }
        st.state = StreamState::Open;
        let level = up.level_of(r, e);
        level.1 += 1;
        let depth = level.1;
        let (s_us, e_us) = (svc as usize, e as usize);
        let flat = self.ep_first[s_us] as usize + e_us;
        self.ep_hot[flat].ok += 1;
        let wait = self.jobs.items[job as usize].queue_wait;
        self.timings
            .push(&mut self.figures.endpoints, (s_us, e_us), wait, wait, None);
        let follow = &mut self.figures.endpoints[s_us][e_us].follow;
        follow.streams_opened += 1;
        follow.max_streams = follow.max_streams.max(depth);
        self.reps[r as usize].completed += 1;
        let blocking = self.plan.services[s_us].blocking;
        let j = &mut self.jobs.items[job as usize];
        // A push runs without a deadline (the replica's pusher has none).
        j.deadline = topolab_rules::deadline::NONE;
        j.holds = blocking;
        let reply = j.reply;
        if !blocking {
            self.release_worker(r);
        }
        self.respond(reply, crate::OK, false);
        if let Some(v) = self.updates.as_deref_mut().and_then(|u| u.streams_of(svc)) {
            v.push(s);
        }
        self.push_if_new(s);
        true
    }

    /// Starts a push down stream `s` if its service holds a newer version
    /// than the stream's last and no push is running.
    pub(crate) fn push_if_new(&mut self, s: u32) {
        let st = self.stream_state(s).clone();
        if st.state != StreamState::Open || st.pushing.is_some() {
            return;
        }
        let j = &self.jobs.items[st.job as usize];
        let (svc, e) = (j.service, j.endpoint);
        let current = self.current(svc);
        if current <= st.known {
            return;
        }
        self.stream_state(s).pushing = Some(current);
        let list = self.plan.services[svc as usize].endpoints[e as usize].list;
        let fiber = self.new_fiber(st.job, list, PUSH, false);
        self.advance(fiber);
    }

    /// A push's steps ended: its message goes to the client, and the next
    /// push starts if a newer version came meanwhile.
    pub(crate) fn push_done(&mut self, job: u32) {
        let Some(&s) = self.updates.as_deref().and_then(|u| u.stream_of.get(&job)) else {
            return;
        };
        let st = self.stream_state(s);
        let Some(version) = st.pushing.take() else {
            return;
        };
        st.known = version;
        let state = st.state;
        let j = &self.jobs.items[job as usize];
        let (svc, e, r) = (j.service as usize, j.endpoint as usize, j.rep);
        self.figures.endpoints[svc][e].follow.pushed += 1;
        if let Some(up) = self.updates.as_deref_mut() {
            *up.pushed.entry(r).or_default() += 1;
        }
        match state {
            StreamState::Open => {
                // Its replica's thread sends it in turn (`thread.rs`).
                self.give_thread(r, Message::Push { stream: s, version });
                self.push_if_new(s);
            }
            StreamState::Closing => self.stream_closes(s),
            _ => {}
        }
    }

    /// Push `version`'s message leaves its replica's thread for the client.
    pub(crate) fn push_sent(&mut self, s: u32, version: u64) {
        let job = self.stream_state(s).job;
        let j = &self.jobs.items[job as usize];
        let (svc, e) = (j.service as usize, j.endpoint as usize);
        let at = self.now + self.hop + self.wire(svc, e);
        self.queue.push(at, Event::Pushed { stream: s, version });
    }

    /// The client's close reaches the replica: the stream ends now, or once
    /// the push running ends.
    pub(crate) fn stream_closed(&mut self, s: u32) {
        let st = self.stream_state(s);
        if st.state != StreamState::Open {
            return;
        }
        let (job, pushing) = (st.job, st.pushing.is_some());
        let svc = self.jobs.items[job as usize].service;
        if let Some(v) = self.updates.as_deref_mut().and_then(|u| u.streams_of(svc)) {
            v.retain(|&x| x != s);
        }
        if pushing {
            self.stream_state(s).state = StreamState::Closing;
        } else {
            self.stream_closes(s);
        }
    }

    fn stream_closes(&mut self, s: u32) {
        let st = self.stream_state(s);
        st.state = StreamState::Closed;
        let job = st.job;
        let j = &self.jobs.items[job as usize];
        let (r, e, holds) = (j.rep, j.endpoint, j.holds);
        let up = self.updates.as_deref_mut().expect("updates");
        up.stream_of.remove(&job);
        up.level_of(r, e).1 -= 1;
        self.free_job(job);
        if holds {
            self.release_worker(r);
        }
    }

    /// A client gave up opening stream `s` (its caller is gone).
    pub(crate) fn stream_abandoned(&mut self, s: u32) {
        let st = self.stream_state(s);
        if st.state == StreamState::Opening {
            st.state = StreamState::Abandoned;
        }
    }

    /// Counts a refused opening on its endpoint (the queue was full).
    pub(crate) fn stream_refused(&mut self, s: u32) {
        let g = self.stream_state(s).generator;
        if let Some((svc, e)) = self.gens[g as usize].target() {
            self.figures.endpoints[svc as usize][e as usize]
                .follow
                .streams_rejected += 1;
        }
    }

    /// Time on the wire for endpoint `e` of service `svc`'s response beyond
    /// the hop: none modelled yet on loopback (see `docs/predict.md`).
    fn wire(&self, _svc: usize, _e: usize) -> Nanos {
        0
    }
}
