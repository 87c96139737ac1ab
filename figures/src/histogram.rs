//! The figures' HDR histograms: auto-resizing, so no latency is ever clamped,
//! and recorded without a failure to handle.

use hdrhistogram::{Counter, Histogram};

/// An empty auto-resizing histogram of `sigfig` significant figures: 3 for
/// what a run measures, 2 where ten thousand simulated services must stay
/// small.
pub fn histogram<C: Counter>(sigfig: u8) -> Histogram<C> {
    // Cannot fail: callers ask for 2 or 3 significant figures, within
    // hdrhistogram's 0..=5.
    let mut h = Histogram::new(sigfig).expect("valid significant figures");
    h.auto(true);
    h
}

/// Records `v`; beyond what even an auto-resizing histogram holds (values
/// near `u64::MAX`), the value is clamped to its top rather than lost.
pub fn record<C: Counter>(h: &mut Histogram<C>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}
