//! What `predict` prints for a topology too large to read on a terminal
//! (ten thousand services, a thousand generators): the tables keep the
//! services with the highest utilisation and the busiest generators, and
//! say how many rows they leave out; `summary.json` keeps every one.

use std::fmt::Write as _;

use topolab_launcher::summary::Summary;
use topolab_sim::analysis::Capacity;

/// Most services (and, separately, generators) the printed tables show.
pub const MAX_PRINTED: usize = 25;

/// A copy of `summary` cut down to the [`MAX_PRINTED`] services of highest
/// utilisation (in the topology's order) and the [`MAX_PRINTED`] generators
/// that sent most, with a note saying what was left out; `None` when
/// everything fits.
pub fn trimmed(summary: &Summary, cap: &Capacity) -> Option<(Summary, String)> {
    let (services, generators) = (summary.services.len(), summary.load.len());
    if services <= MAX_PRINTED && generators <= MAX_PRINTED {
        return None;
    }
    let top_services = top(cap.services.iter().map(|u| u.rho), MAX_PRINTED);
    let top_load = top(summary.load.values().map(|l| l.sent as f64), MAX_PRINTED);
    let mut out = summary.clone();
    out.services = summary
        .services
        .iter()
        .enumerate()
        .filter(|(i, _)| top_services.contains(i))
        .map(|(_, (k, v))| (k.clone(), v.clone()))
        .collect();
    out.load = summary
        .load
        .iter()
        .enumerate()
        .filter(|(i, _)| top_load.contains(i))
        .map(|(_, (k, v))| (k.clone(), v.clone()))
        .collect();
    let mut note = String::from("\nshown:");
    if generators > MAX_PRINTED {
        let _ = write!(
            note,
            " the {MAX_PRINTED} of {generators} generators that sent most;"
        );
    }
    if services > MAX_PRINTED {
        let _ = write!(
            note,
            " the {MAX_PRINTED} of {services} services of highest utilisation;"
        );
    }
    note.push_str(" every one is in summary.json\n");
    Some((out, note))
}

/// Indices of the `n` largest values, in index order (ties: earlier first).
pub fn top(values: impl Iterator<Item = f64>, n: usize) -> Vec<usize> {
    let mut v: Vec<(usize, f64)> = values.enumerate().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut keep: Vec<usize> = v.into_iter().take(n).map(|(i, _)| i).collect();
    keep.sort_unstable();
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_keeps_the_largest_in_their_order() {
        let got = top([0.1, 0.9, 0.5, 0.9, 0.2].into_iter(), 3);
        assert_eq!(got, [1, 2, 3]);
        assert_eq!(top([1.0].into_iter(), 5), [0]);
    }
}
