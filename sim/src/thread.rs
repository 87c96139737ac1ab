//! A replica's one thread in a burst of messages, as `services/` runs every
//! replica on one: when a version appears it sends each held long poll's
//! answer and each push's message one after another, each costing it the
//! probed time ([`crate::Options::message_cost`], `push_cost`), and takes
//! each next long poll in at the same cost. Answers are ready at once;
//! pushes once their steps end; a thread with both ready takes them in
//! turn (a runtime's queue, where the woken long polls and the pushers
//! whose work ended wait together). Only services with `updates` use it.

use std::collections::VecDeque;

use crate::engine::Event;
use crate::world::World;

/// One message for the thread.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Message {
    /// A held long poll's answer: its job and the job's token.
    Answer { job: u32, token: u64 },
    /// A long poll taken in: it costs the thread, and sends nothing.
    Take,
    /// A push's message down `stream`.
    Push { stream: u32, version: u64 },
}

/// One replica's thread: what waits for it, and what it is sending.
#[derive(Debug, Default)]
pub struct Thread {
    answers: VecDeque<Message>,
    pushes: VecDeque<Message>,
    /// The message being sent, done at the thread's next `ThreadDone`.
    current: Option<Message>,
    busy: bool,
    /// Whose turn is next when both wait: the pushes'.
    pushes_next: bool,
}

impl World<'_> {
    fn costs(&self) -> (u64, u64) {
        self.updates
            .as_deref()
            .map_or((0, 0), |u| (u.message_cost, u.push_cost))
    }

    /// Gives replica `rep`'s thread message `m`: sent now if the thread
    /// costs nothing, else in turn.
    pub(crate) fn give_thread(&mut self, rep: u32, m: Message) {
        if self.costs() == (0, 0) {
            return self.message_sent(m);
        }
        // Cannot fail: only called once `updates` was found set.
        let up = self.updates.as_deref_mut().expect("updates simulated");
        let t = up.threads.entry(rep).or_default();
        match m {
            Message::Push { .. } => t.pushes.push_back(m),
            _ => t.answers.push_back(m),
        }
        if !t.busy {
            self.thread_next(rep);
        }
    }

    /// Replica `rep`'s thread starts its next message, if one waits.
    fn thread_next(&mut self, rep: u32) {
        let (answer, push) = self.costs();
        let up = self.updates.as_deref_mut().expect("updates simulated");
        let Some(t) = up.threads.get_mut(&rep) else {
            return;
        };
        let from_pushes = !t.pushes.is_empty() && (t.pushes_next || t.answers.is_empty());
        let next = if from_pushes {
            t.pushes.pop_front()
        } else {
            t.answers.pop_front()
        };
        t.busy = next.is_some();
        t.current = next;
        let Some(m) = next else {
            return;
        };
        t.pushes_next = !from_pushes;
        let cost = if matches!(m, Message::Push { .. }) {
            push
        } else {
            answer
        };
        self.queue
            .push(self.now + cost, Event::ThreadDone { replica: rep });
    }

    /// Replica `rep`'s thread has sent its message: the next starts.
    pub(crate) fn thread_done(&mut self, rep: u32) {
        let up = self.updates.as_deref_mut().expect("updates simulated");
        let Some(m) = up.threads.get_mut(&rep).and_then(|t| t.current.take()) else {
            return;
        };
        self.message_sent(m);
        self.thread_next(rep);
    }

    fn message_sent(&mut self, m: Message) {
        match m {
            Message::Answer { job, token } => self.end_hold(job, Some(token)),
            Message::Take => {}
            Message::Push { stream, version } => self.push_sent(stream, version),
        }
    }

    /// Replica `r` was killed: what waited for its thread is gone with it.
    pub(crate) fn thread_killed(&mut self, r: u32) {
        if let Some(up) = self.updates.as_deref_mut() {
            up.threads.remove(&r);
        }
    }
}
