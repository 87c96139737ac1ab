//! Milliseconds as people read them, in the terminal's tables, the report
//! and `topolab trace` alike, and from the units figures are recorded in
//! (HDR histograms in microseconds, spans in nanoseconds). One owner, so the
//! same latency is never written two ways on two pages.

/// A duration in milliseconds for a table cell: whole above 100 ms, one
/// decimal above 10 ms, two below (a 0.35 ms hop and a 2,400 ms queue wait
/// both keep their meaningful digits).
pub fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Microseconds (what the HDR histograms hold) in milliseconds.
pub fn ms_from_us(us: u64) -> f64 {
    us as f64 / 1e3
}

/// Nanoseconds (what spans hold) in milliseconds.
pub fn ms_from_ns(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_digits_that_mean_something() {
        assert_eq!(ms(0.354), "0.35");
        assert_eq!(ms(9.999), "10.00");
        assert_eq!(ms(12.34), "12.3");
        assert_eq!(ms(2400.4), "2400");
        assert_eq!(ms_from_us(1500), 1.5);
        assert_eq!(ms_from_ns(2_500_000), 2.5);
    }
}
