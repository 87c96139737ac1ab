//! `updates_timeseries.csv` being written (its owner is
//! [`topolab_results::updates`]): every following generator's staleness
//! per interval, taken from its recorder as intervals end (by the same
//! [`crate::series::Drainer`] that writes `load_timeseries.csv`), so
//! a run of an hour holds no more of it than a run of a minute.

use std::path::{Path, PathBuf};
use std::time::Instant;

use topolab_results::updates;

use crate::LiveLoad;

/// The file, created when the first following generator is seen: a run
/// that follows no updates has none.
pub struct StalenessFile {
    path: PathBuf,
    writer: Option<updates::Writer>,
}

impl StalenessFile {
    /// The file that will be in `folder`.
    pub fn new(folder: &Path) -> Self {
        StalenessFile {
            path: folder.join(updates::FILE),
            writer: None,
        }
    }

    /// Writes the intervals of every following generator in `live` that
    /// ended before `now`, generator by generator (a reader groups them).
    pub fn drain(&mut self, live: &LiveLoad, now: Instant) -> anyhow::Result<()> {
        for (name, recorder) in live {
            let rows = match &mut recorder.lock().freshness {
                Some(f) => f.take_ended(name, now),
                None => continue,
            };
            let writer = match &mut self.writer {
                Some(w) => w,
                None => self.writer.insert(updates::writer(&self.path)?),
            };
            for row in &rows {
                writer.row(row)?;
            }
        }
        Ok(())
    }

    /// Writes what is left (every generator closed) and closes the file.
    pub fn finish(mut self, live: &LiveLoad) -> anyhow::Result<()> {
        self.drain(live, Instant::now())?;
        if let Some(w) = self.writer {
            w.finish()?;
        }
        Ok(())
    }
}
