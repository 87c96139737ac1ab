//! `run --predict`: the prediction made before the real run, with its own
//! noise, kept in the run folder's `prediction/` and set beside what the run
//! measured. The noise comes from [`SIMULATIONS`] simulations with seeds
//! `seed`, `seed + 1`, ...: the first (the run's own seed, so the same
//! arrival schedule the real generators pace) is the one written out; all of
//! them give each figure's spread ([`topolab_results::versus`]).

use std::path::{Path, PathBuf};

use topolab_model::Loaded;
use topolab_results::versus::{self, Line, Scoped};
use topolab_results::{report, summary, timeseries};

use super::{Hop, Simulated, simulate, write};

/// Simulations behind a prediction's noise: enough for a t-interval to be
/// of use (t(7) = 2.36), few enough to stay well under a second for any
/// topology one machine can run.
pub const SIMULATIONS: u32 = 8;

/// The prediction for a run of `loaded` with `seed`, its noise filled.
pub fn predict_for_run(loaded: &Loaded, seed: u64, hop: &Hop) -> anyhow::Result<Simulated> {
    let t = &loaded.topology;
    let mut first = simulate(loaded, seed, hop)?;
    let mut all: Vec<Scoped> = vec![scoped(t, &first)];
    for i in 1..u64::from(SIMULATIONS) {
        let other = simulate(loaded, seed.wrapping_add(i), hop)?;
        all.push(scoped(t, &other));
    }
    if let Some(p) = first.summary.prediction.as_mut() {
        p.noise = Some(versus::noise(&all));
    }
    Ok(first)
}

fn scoped(t: &topolab_model::Topology, s: &Simulated) -> Scoped {
    let series = timeseries::by_service(&s.rows);
    versus::figures(&s.summary, &versus::busy(t, &series))
}

/// Writes the prediction into `run/prediction/` and the run's
/// `report.html` again, now with its "Predicted vs measured" section.
pub fn write_beside(run: &Path, loaded: &Loaded, sim: &Simulated) -> anyhow::Result<PathBuf> {
    let folder = write(loaded, sim, Some(&run.join(versus::FOLDER)), true, true)?;
    report::write(run)?;
    Ok(folder)
}

/// The run's figures beside its prediction's, read from the run folder.
pub fn lines(run: &Path, loaded: &Loaded, sim: &Simulated) -> anyhow::Result<Vec<Line>> {
    let measured = summary::read(&run.join(summary::FILE))?;
    // Without telemetry only the busy shares are missing from the table.
    let series = timeseries::read_by_service(&run.join(timeseries::FILE)).unwrap_or_default();
    Ok(versus::side_by_side(
        &loaded.topology,
        &measured,
        &series,
        &sim.summary,
        &timeseries::by_service(&sim.rows),
    ))
}
