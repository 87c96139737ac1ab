//! How stale the clients of one following generator (`poll`, `long_poll`,
//! `subscribe`) kept their view, counted once for the launcher's clients
//! and the simulator's: for every version that appeared while a client ran,
//! the time from its creation to the moment the client held it or a newer
//! one. Times are from the start of load, as the version timeline's are.

use std::time::Duration;

use hdrhistogram::Histogram;
use topolab_model::Timeline;

/// One generator's freshness: its clients' versions and their staleness.
#[derive(Debug, Clone)]
pub struct Freshness {
    timeline: Timeline,
    /// The newest version each client holds or no longer counts (versions
    /// that appeared before it started are not its to miss).
    known: Vec<u64>,
    staleness_us: Histogram<u64>,
    seen: u64,
    missed: u64,
    reconnects: u64,
    /// The newest version that appeared while the generator ran, and the
    /// one that existed when its first client started.
    last_version: u64,
    first_version: Option<u64>,
}

impl Freshness {
    /// `clients` clients following `timeline`.
    pub fn new(timeline: Timeline, clients: u32) -> Self {
        Freshness {
            timeline,
            known: vec![0; clients as usize],
            staleness_us: crate::histogram(3),
            seen: 0,
            missed: 0,
            reconnects: 0,
            last_version: 0,
            first_version: None,
        }
    }

    /// The data's versions come `gaps` apart from `from` on, as the
    /// replicas were told (see [`Timeline::retime`]).
    pub fn retime(&mut self, from: Duration, gaps: topolab_model::Dist, change: u64) {
        self.timeline.retime(from, gaps, change);
    }

    /// The newest version at `at` after the start of load.
    pub fn version_at(&mut self, at: Duration) -> u64 {
        self.timeline.version_at(at)
    }

    /// Client `c` becomes active at `at`: versions that exist already are
    /// not counted against it.
    pub fn start(&mut self, c: u32, at: Duration) {
        let now = self.version_at(at);
        self.first_version.get_or_insert(now);
        if let Some(k) = self.known.get_mut(c as usize) {
            *k = (*k).max(now);
        }
    }

    /// Client `c` holds `version` from `at` on; `each` hears the staleness
    /// (µs) of every version this newly covers.
    pub fn held(&mut self, c: u32, version: u64, at: Duration, mut each: impl FnMut(u64)) {
        let Some(&known) = self.known.get(c as usize) else {
            return;
        };
        if version <= known {
            return;
        }
        self.seen += 1;
        self.missed += version - known - 1;
        for k in known + 1..=version {
            let us = at.saturating_sub(self.timeline.created(k)).as_micros() as u64;
            crate::record(&mut self.staleness_us, us.max(1));
            each(us);
        }
        self.known[c as usize] = version;
    }

    /// A client starts a request or stream again after a failure.
    pub fn reconnect(&mut self) {
        self.reconnects += 1;
    }

    /// The generator stopped at `end`: every version a client does not hold
    /// yet counts as stale until then (a client cut off for the rest of the
    /// run was stale all that time, not absent from the figures).
    pub fn close(&mut self, end: Duration) {
        let newest = self.version_at(end);
        self.last_version = newest;
        for c in 0..self.known.len() {
            let known = self.known[c];
            for k in known + 1..=newest {
                let us = end.saturating_sub(self.timeline.created(k)).as_micros() as u64;
                crate::record(&mut self.staleness_us, us.max(1));
            }
            self.known[c] = newest.max(known);
        }
    }

    /// Staleness of every version to every client so far, microseconds.
    pub fn staleness_us(&self) -> &Histogram<u64> {
        &self.staleness_us
    }

    /// Versions the data went through while the generator ran (once closed).
    pub fn versions_created(&self) -> u64 {
        self.last_version
            .saturating_sub(self.first_version.unwrap_or(self.last_version))
    }

    /// Versions clients received, summed over clients.
    pub fn versions_seen(&self) -> u64 {
        self.seen
    }

    /// Versions clients never received (a newer one came first).
    pub fn versions_missed(&self) -> u64 {
        self.missed
    }

    /// Requests or streams started again after a failure.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topolab_model::Dist;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_poller_that_skips_a_version_counts_it_missed_and_stale() {
        let gaps = Dist::Const(Duration::from_secs(1));
        let mut f = Freshness::new(Timeline::new(1, "s", gaps), 1);
        f.start(0, Duration::ZERO);
        // Versions 1 and 2 appear at 1 s and 2 s; the client learns of 2 at 2.5 s.
        let mut heard = Vec::new();
        f.held(0, 2, MS(2500), |us| heard.push(us));
        assert_eq!(heard, [1_500_000, 500_000]);
        f.close(MS(2600));
        assert_eq!((f.versions_seen(), f.versions_missed()), (1, 1));
        assert_eq!(f.versions_created(), 2);
        assert!((f.staleness_us().mean() - 1e6).abs() < 2e3);
    }

    #[test]
    fn versions_never_received_count_until_the_end() {
        let gaps = Dist::Const(Duration::from_secs(1));
        let mut f = Freshness::new(Timeline::new(1, "s", gaps), 1);
        f.start(0, Duration::ZERO);
        f.close(MS(3000));
        assert_eq!(f.versions_seen(), 0);
        // Versions at 1 s, 2 s, 3 s: stale 2 s, 1 s and 0 s at the end.
        assert!((f.staleness_us().mean() - 1e6).abs() < 2e3);
    }
}
