//! Endpoint timings recorded in batches. Each served request records three
//! histograms (latency, queue wait, work) of its endpoint; with thousands of
//! endpoints each record is a cache miss on a histogram far from the last
//! one. Large topologies therefore buffer the timings and, when the buffer
//! fills, record them grouped by endpoint (a counting sort), so each
//! histogram is visited once per batch. Histograms add up the same in any
//! order, so the figures are those of recording at once.

use crate::engine::Nanos;
use crate::figures::EndpointFigures;
use crate::plan::Plan;

/// Timings buffered before they are recorded (16 bytes each).
const BATCH: usize = 1 << 19;

/// Up to this many endpoints the histograms stay in cache: record at once.
const DIRECT_UP_TO: usize = 64;

/// `work_us` of a request that never ran.
const NO_WORK: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, Default)]
struct Rec {
    endpoint: u32,
    latency_us: u32,
    wait_us: u32,
    work_us: u32,
}

/// The buffer, and where each endpoint's figures are.
#[derive(Debug)]
pub(crate) struct Timings {
    buf: Vec<Rec>,
    sorted: Vec<Rec>,
    /// Per flat endpoint: its records in the batch, then where they go.
    slots: Vec<u32>,
    /// (service, endpoint) of each flat endpoint index.
    owner: Vec<(u32, u32)>,
    /// Flat index of each service's first endpoint.
    first: Vec<u32>,
    direct: bool,
}

impl Timings {
    pub(crate) fn new(plan: &Plan) -> Self {
        let mut owner = Vec::new();
        let mut first = Vec::with_capacity(plan.services.len());
        for (s, svc) in plan.services.iter().enumerate() {
            first.push(owner.len() as u32);
            owner.extend((0..svc.endpoints.len()).map(|e| (s as u32, e as u32)));
        }
        Timings {
            buf: Vec::new(),
            sorted: Vec::new(),
            slots: vec![0; owner.len()],
            direct: owner.len() <= DIRECT_UP_TO,
            owner,
            first,
        }
    }

    /// Records (soon) a request served at endpoint `e` of service `s`.
    pub(crate) fn push(
        &mut self,
        figures: &mut [Vec<EndpointFigures<u32>>],
        (s, e): (usize, usize),
        latency: Nanos,
        wait: Nanos,
        work: Option<Nanos>,
    ) {
        let us = |ns: Nanos| (ns / 1000).min(u64::from(NO_WORK - 1)) as u32;
        if self.direct {
            figures[s][e].timings(latency / 1000, wait / 1000, work.map(|w| w / 1000));
            return;
        }
        self.buf.push(Rec {
            endpoint: self.first[s] + e as u32,
            latency_us: us(latency),
            wait_us: us(wait),
            work_us: work.map_or(NO_WORK, us),
        });
        if self.buf.len() >= BATCH {
            self.flush(figures);
        }
    }

    /// Records every buffered timing.
    pub(crate) fn flush(&mut self, figures: &mut [Vec<EndpointFigures<u32>>]) {
        if self.buf.is_empty() {
            return;
        }
        self.slots.fill(0);
        for r in &self.buf {
            self.slots[r.endpoint as usize] += 1;
        }
        let mut at = 0;
        for n in &mut self.slots {
            let count = *n;
            *n = at;
            at += count;
        }
        self.sorted.clear();
        self.sorted.resize(self.buf.len(), Rec::default());
        for r in &self.buf {
            let slot = &mut self.slots[r.endpoint as usize];
            self.sorted[*slot as usize] = *r;
            *slot += 1;
        }
        self.buf.clear();
        for r in &self.sorted {
            let (s, e) = self.owner[r.endpoint as usize];
            let work = (r.work_us != NO_WORK).then_some(u64::from(r.work_us));
            figures[s as usize][e as usize].timings(
                u64::from(r.latency_us),
                u64::from(r.wait_us),
                work,
            );
        }
    }
}
