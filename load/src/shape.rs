//! The shape of a generator over time on the wall clock: the arithmetic
//! (arrivals through ramping stages, closed-loop clients by stage) lives in
//! [`topolab_model::shape`], shared with the simulator; this maps it onto
//! `Instant`s.

use std::time::{Duration, Instant};

use topolab_model::{Arrivals, RateStage};

pub use topolab_model::shape::{clients_at, next_active, offsets};

/// The due times of arrivals through `stages` from `begin`, in order.
pub fn schedule(
    stages: &[RateStage],
    arrivals: Arrivals,
    begin: Instant,
    seed: u64,
) -> impl Iterator<Item = Instant> + Send + 'static {
    let offsets = offsets(stages.to_vec(), arrivals, seed);
    offsets.map(move |secs| begin + Duration::from_secs_f64(secs))
}
