//! Generated topologies for measuring the simulator at scale: the benchmark
//! (`make bench BENCH=sim`), the profiling example and the scale test all
//! predict the same shape, so their figures can be compared.

use std::fmt::Write as _;

/// A layered topology of `n` services (`n` ≥ 10): a tenth are entry
/// services, each with its own open-loop generator at an equal share of
/// `rate` for `secs` seconds, calling two of the next three tenths in turn,
/// each of which calls one of the remaining six tenths. Every service has 8
/// workers doing `exp(1ms)`; a request visits five services.
pub fn layered(n: usize, rate: f64, secs: u32) -> String {
    let entries = (n / 10).max(1);
    let middle = (3 * n / 10).max(1);
    let leaves = n.saturating_sub(entries + middle).max(1);
    let mut y = String::from("name: generated\nsettings:\n  sample_every: 1s\nservices:\n");
    for i in 0..entries + middle + leaves {
        let _ = write!(
            y,
            "  s{i}:\n    workers: 8\n    endpoints:\n      E:\n        steps:\n          - work: exp(1ms)\n"
        );
        if i < entries {
            for k in 0..2 {
                let m = entries + (2 * i + k) % middle;
                let _ = writeln!(y, "          - call: s{m}/E");
            }
        } else if i < entries + middle {
            let l = entries + middle + (i - entries) % leaves;
            let _ = writeln!(y, "          - call: s{l}/E");
        }
    }
    y.push_str("load:\n");
    for i in 0..entries {
        let _ = write!(
            y,
            "  g{i}:\n    target: s{i}/E\n    rate: {}/s\n    duration: {secs}s\n",
            rate / entries as f64
        );
    }
    y
}
