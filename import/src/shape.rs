//! An endpoint's calls in order: one request's calls as a shape (children
//! sorted by start; calls whose intervals overlap, within a tolerance for
//! clock skew, run in one `parallel` block; the same callee called again
//! and again in a row is one call made `times` times), and the shapes of
//! many requests merged into one [`Template`] whose slots carry how often
//! each call was made.

use std::collections::BTreeMap;

use crate::trace::{CallObs, Target};

/// One step of a request's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obs {
    Call {
        target: Target,
        times: u32,
    },
    /// Branches, each a sequence of calls, sorted so that equal blocks compare equal.
    Parallel(Vec<Vec<Obs>>),
}

impl Obs {
    /// What two requests must share for their steps to be the same slot
    /// (the repetitions may differ).
    fn key(&self) -> String {
        match self {
            Obs::Call { target, .. } => target.to_string(),
            Obs::Parallel(branches) => {
                let b: Vec<String> = branches
                    .iter()
                    .map(|br| br.iter().map(Obs::key).collect::<Vec<_>>().join(" "))
                    .collect();
                format!("[{}]", b.join(" | "))
            }
        }
    }
}

/// The shape of one request's `calls`; `tolerance_ns` is how far two
/// intervals may overlap and still count as one after the other.
pub fn shape(calls: &mut [CallObs], tolerance_ns: u64) -> Vec<Obs> {
    calls.sort_by_key(|c| (c.start, c.end));
    let mut out = Vec::new();
    let mut group: Vec<&CallObs> = Vec::new();
    let mut group_end = 0u64;
    for c in calls.iter() {
        if !group.is_empty() && c.start + tolerance_ns >= group_end {
            out.push(block(&group, tolerance_ns));
            group.clear();
        }
        group_end = if group.is_empty() {
            c.end
        } else {
            group_end.max(c.end)
        };
        group.push(c);
    }
    if !group.is_empty() {
        out.push(block(&group, tolerance_ns));
    }
    compress(out)
}

/// Overlapping calls: one call, or a parallel block whose branches are
/// chains of calls each starting after the one before it ended.
fn block(group: &[&CallObs], tolerance_ns: u64) -> Obs {
    if group.len() == 1 {
        return call(group[0]);
    }
    let mut branches: Vec<(u64, Vec<Obs>)> = Vec::new();
    for c in group {
        match branches
            .iter_mut()
            .find(|(end, _)| c.start + tolerance_ns >= *end)
        {
            Some((end, steps)) => {
                *end = c.end;
                steps.push(call(c));
            }
            None => branches.push((c.end, vec![call(c)])),
        }
    }
    let mut branches: Vec<Vec<Obs>> = branches.into_iter().map(|(_, b)| compress(b)).collect();
    branches.sort_by_key(|b| b.iter().map(Obs::key).collect::<Vec<_>>());
    Obs::Parallel(branches)
}

fn call(c: &CallObs) -> Obs {
    Obs::Call {
        target: c.target.clone(),
        times: 1,
    }
}

/// Consecutive calls to the same callee as one call made `times` times.
fn compress(steps: Vec<Obs>) -> Vec<Obs> {
    let mut out: Vec<Obs> = Vec::with_capacity(steps.len());
    for s in steps {
        if let (
            Some(Obs::Call { target: a, times }),
            Obs::Call {
                target: b,
                times: n,
            },
        ) = (out.last_mut(), &s)
            && a == b
        {
            *times += n;
            continue;
        }
        out.push(s);
    }
    out
}

/// Slots kept per endpoint at most; shapes past it are counted, not merged.
pub const MAX_SLOTS: usize = 64;

/// One step of an endpoint's merged shape.
#[derive(Debug, Clone)]
pub struct Slot {
    key: String,
    /// The step as first seen.
    pub example: Obs,
    /// Requests in which it was made.
    pub seen: u64,
    /// How many times in a row, by requests (calls only).
    pub times: BTreeMap<u32, u64>,
}

/// An endpoint's calls merged over every request seen.
#[derive(Debug, Clone, Default)]
pub struct Template {
    pub slots: Vec<Slot>,
    /// Requests merged in.
    pub requests: u64,
    /// Steps that found no room (past [`MAX_SLOTS`]).
    pub overflow: u64,
}

impl Template {
    /// Merges one request's shape: its steps are matched to the slots in
    /// order (a longest common subsequence of their keys); steps no slot
    /// matches become new slots where they stand.
    pub fn merge(&mut self, shape: Vec<Obs>) {
        self.requests += 1;
        let shape = self.as_parallel(shape);
        let keys: Vec<String> = shape.iter().map(Obs::key).collect();
        let (m, n) = (self.slots.len(), keys.len());
        // lcs[i][j]: common length of slots[i..] and keys[j..].
        let mut lcs = vec![vec![0u32; n + 1]; m + 1];
        for i in (0..m).rev() {
            for j in (0..n).rev() {
                lcs[i][j] = if self.slots[i].key == keys[j] {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
        let mut merged = Vec::with_capacity(m + n);
        let mut old: Vec<Option<Slot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        let mut items: Vec<Option<(Obs, String)>> = shape.into_iter().zip(keys).map(Some).collect();
        let (mut i, mut j) = (0, 0);
        while i < m || j < n {
            let same = i < m
                && j < n
                && old[i].as_ref().map(|s| &s.key) == items[j].as_ref().map(|(_, k)| k);
            if same && lcs[i][j] == lcs[i + 1][j + 1] + 1 {
                let mut slot = old[i].take().expect("each slot taken once");
                let (obs, _) = items[j].take().expect("each step taken once");
                slot.seen += 1;
                if let Obs::Call { times, .. } = obs {
                    *slot.times.entry(times).or_default() += 1;
                }
                merged.push(slot);
                i += 1;
                j += 1;
            } else if j < n && (i == m || lcs[i][j + 1] >= lcs[i + 1][j]) {
                let (obs, key) = items[j].take().expect("each step taken once");
                j += 1;
                if merged.len() + (m - i) >= MAX_SLOTS {
                    self.overflow += 1;
                    continue;
                }
                let mut times = BTreeMap::new();
                if let Obs::Call { times: t, .. } = &obs {
                    times.insert(*t, 1);
                }
                merged.push(Slot {
                    key,
                    example: obs,
                    seen: 1,
                    times,
                });
            } else {
                merged.push(old[i].take().expect("each slot taken once"));
                i += 1;
            }
        }
        self.slots = merged;
    }
}

impl Template {
    /// A request whose calls ran one after the other where most requests
    /// ran them in parallel (a thread started late) is read as the parallel
    /// block: a run of single calls whose callees are exactly those of a
    /// parallel slot of single calls becomes that block.
    fn as_parallel(&self, mut shape: Vec<Obs>) -> Vec<Obs> {
        for slot in &self.slots {
            let Obs::Parallel(branches) = &slot.example else {
                continue;
            };
            let Some(mut want) = singles(branches.iter().flatten()) else {
                continue;
            };
            if branches.iter().any(|b| b.len() != 1) {
                continue;
            }
            want.sort();
            let k = want.len();
            let found = (0..shape.len().saturating_sub(k - 1)).find(|&i| {
                singles(shape[i..i + k].iter()).is_some_and(|mut got| {
                    got.sort();
                    got == want
                })
            });
            if let Some(i) = found {
                shape.splice(i..i + k, [slot.example.clone()]);
            }
        }
        shape
    }
}

impl Template {
    /// The other half of [`Template::as_parallel`], once every request is
    /// in: single calls that ran one after the other in the requests merged
    /// before a parallel block of the same callees was first seen are
    /// counted as that block.
    pub fn settle(&mut self) {
        while let Some((p, run, n)) = self.sequential_twin() {
            self.slots[p].seen += n;
            for j in run.clone() {
                self.slots[j].seen -= n;
                if let Some(c) = self.slots[j].times.get_mut(&1) {
                    *c -= n.min(*c);
                }
            }
            let mut j = run.start;
            for _ in run {
                if self.slots[j].seen == 0 {
                    self.slots.remove(j);
                } else {
                    j += 1;
                }
            }
        }
    }

    /// A parallel slot of single calls, a run of single-call slots with
    /// the same callees, and how many requests the run can give it.
    fn sequential_twin(&self) -> Option<(usize, std::ops::Range<usize>, u64)> {
        for (p, slot) in self.slots.iter().enumerate() {
            let Obs::Parallel(branches) = &slot.example else {
                continue;
            };
            if branches.iter().any(|b| b.len() != 1) {
                continue;
            }
            let Some(mut want) = singles(branches.iter().flatten()) else {
                continue;
            };
            want.sort();
            let k = want.len();
            for i in 0..self.slots.len().saturating_sub(k - 1) {
                let run = i..i + k;
                if run.contains(&p) {
                    continue;
                }
                let slots = &self.slots[run.clone()];
                let once = slots.iter().all(|s| s.times.keys().all(|t| *t == 1));
                let got = singles(slots.iter().map(|s| &s.example));
                if once
                    && got.is_some_and(|mut g| {
                        g.sort();
                        g == want
                    })
                {
                    let n = slots.iter().map(|s| s.seen).min().unwrap_or(0);
                    if n > 0 {
                        return Some((p, run, n));
                    }
                }
            }
        }
        None
    }
}

/// The callees of steps that are all single calls made once.
fn singles<'a>(steps: impl Iterator<Item = &'a Obs>) -> Option<Vec<String>> {
    steps
        .map(|o| match o {
            Obs::Call { target, times: 1 } => Some(target.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(svc: &str, start: u64, end: u64) -> CallObs {
        CallObs {
            target: Target {
                service: svc.into(),
                endpoint: "E".into(),
            },
            start,
            end,
            untraced: false,
            code: 0,
        }
    }

    fn keys(shape: &[Obs]) -> Vec<String> {
        shape.iter().map(Obs::key).collect()
    }

    #[test]
    fn overlapping_calls_are_parallel_and_repeats_are_times() {
        let mut calls = vec![
            c("a", 0, 10),
            c("b", 1, 12),
            c("c", 20, 25),
            c("c", 25, 30),
            c("c", 30, 35),
            c("d", 36, 40),
        ];
        let s = shape(&mut calls, 0);
        assert_eq!(keys(&s), ["[a/E | b/E]", "c/E", "d/E"]);
        assert!(matches!(s[1], Obs::Call { times: 3, .. }));
    }

    #[test]
    fn a_branch_of_sequential_calls_beside_a_long_one() {
        let mut calls = vec![c("a", 0, 5), c("b", 5, 10), c("z", 0, 11)];
        assert_eq!(keys(&shape(&mut calls, 0)), ["[a/E b/E | z/E]"]);
    }

    #[test]
    fn skew_within_the_tolerance_is_still_sequential() {
        let mut calls = vec![c("a", 0, 10), c("b", 9, 20)];
        assert_eq!(keys(&shape(&mut calls, 2)), ["a/E", "b/E"]);
        assert_eq!(keys(&shape(&mut calls, 0)), ["[a/E | b/E]"]);
    }

    #[test]
    fn calls_once_in_a_row_where_most_were_parallel_merge_into_the_block() {
        let mut t = Template::default();
        t.merge(shape(&mut [c("a", 0, 10), c("b", 1, 9), c("z", 20, 30)], 0));
        t.merge(shape(&mut [c("b", 0, 5), c("a", 6, 10), c("z", 20, 30)], 0));
        let got: Vec<(String, u64)> = t.slots.iter().map(|s| (s.key.clone(), s.seen)).collect();
        assert_eq!(
            got,
            [("[a/E | b/E]", 2), ("z/E", 2)].map(|(k, n)| (k.to_string(), n))
        );
    }

    #[test]
    fn calls_in_a_row_seen_before_the_parallel_block_settle_into_it() {
        let mut t = Template::default();
        t.merge(shape(&mut [c("b", 0, 5), c("a", 6, 10), c("z", 20, 30)], 0));
        t.merge(shape(&mut [c("a", 0, 10), c("b", 1, 9), c("z", 20, 30)], 0));
        t.merge(shape(&mut [c("a", 0, 10), c("b", 1, 9), c("z", 20, 30)], 0));
        t.settle();
        let got: Vec<(String, u64)> = t.slots.iter().map(|s| (s.key.clone(), s.seen)).collect();
        assert_eq!(
            got,
            [("[a/E | b/E]", 3), ("z/E", 3)].map(|(k, n)| (k.to_string(), n))
        );
    }

    #[test]
    fn optional_calls_merge_into_slots_with_counts() {
        let mut t = Template::default();
        let s = |names: &[&str]| {
            let mut calls: Vec<CallObs> = names
                .iter()
                .enumerate()
                .map(|(i, n)| c(n, i as u64 * 10, i as u64 * 10 + 5))
                .collect();
            shape(&mut calls, 0)
        };
        t.merge(s(&["a", "c"]));
        t.merge(s(&["a", "b", "c"]));
        t.merge(s(&["a", "c"]));
        t.merge(s(&["a", "b", "c"]));
        let got: Vec<(String, u64)> = t.slots.iter().map(|s| (s.key.clone(), s.seen)).collect();
        assert_eq!(
            got,
            [("a/E", 4), ("b/E", 2), ("c/E", 4)].map(|(k, n)| (k.to_string(), n))
        );
        assert_eq!(t.requests, 4);
    }
}
