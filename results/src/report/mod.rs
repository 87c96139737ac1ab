//! The pages a folder gets: `report.html` for a run folder and `sweep.html`
//! for a sweep folder, each self-contained (inline SVG and CSS, and in a
//! run's report one embedded script that opens a dot's request chain;
//! nothing fetched), readable offline. `page` lays out a run's report:
//! [`charts`] draws its time charts with plotters, [`timeline`] gives them
//! the faults, restarts and onsets to mark and the bin to use, and its
//! sections are the per-request view, the faults and their effect, the
//! summary tables and the topology graph. [`sweep_page`] and
//! [`sweep_chart`] are a sweep's.

pub mod chain_view;
pub mod charts;
mod faults;
mod graph_svg;
mod page;
mod requests_view;
pub mod sweep_chart;
pub mod sweep_page;
mod tables;
pub mod timeline;
mod updates_view;
mod versus_view;
mod wire_view;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::run_dir::RunDir;
use crate::sweep;

/// The page of a sweep folder.
pub const SWEEP_PAGE: &str = "sweep.html";
/// The page of a run folder.
pub const RUN_PAGE: &str = "report.html";

/// (Re)writes the page of `dir` and returns its path: `report.html` for a
/// run folder (one with `topology.yaml`), `sweep.html` for a sweep folder
/// (one with `sweep.csv` and no `topology.yaml`).
pub fn write(dir: &Path) -> anyhow::Result<PathBuf> {
    let is_sweep = !dir.join("topology.yaml").exists() && dir.join(sweep::CSV_FILE).exists();
    let (out, html) = if is_sweep {
        let s = sweep::read(dir)?;
        let name = dir
            .file_name()
            .map_or_else(|| "sweep".into(), |n| n.to_string_lossy().into_owned());
        (dir.join(SWEEP_PAGE), sweep_page::render(&s, &name)?)
    } else {
        let run = RunDir::read(dir)?;
        (dir.join(RUN_PAGE), page::render(&run)?)
    };
    std::fs::write(&out, html).with_context(|| format!("writing {}", out.display()))?;
    Ok(out)
}
