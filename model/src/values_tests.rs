//! Unit tests of every value kind: the forms the spec shows, and the
//! mistakes users make with them.

use super::*;

#[test]
fn durations_in_every_unit() {
    assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
    assert_eq!(duration("250µs"), Ok(Duration::from_micros(250)));
    assert_eq!(duration("2ms"), Ok(Duration::from_millis(2)));
    assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(duration("0.1s"), Ok(Duration::from_millis(100)));
    assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(duration("0s"), Ok(Duration::ZERO));
}

#[test]
fn bad_durations_say_what_is_expected() {
    let e = duration("2h").unwrap_err();
    assert_eq!(e.problem, "unknown unit `h` in `2h`");
    assert!(e.expected.contains("`250ms`"));
    assert_eq!(duration("5").unwrap_err().problem, "`5` has no unit");
    assert_eq!(duration("-1s").unwrap_err().problem, "`-1s` is negative");
    assert_eq!(
        duration("ms").unwrap_err().problem,
        "`ms` does not start with a number"
    );
    assert!(duration("1.2.3s").is_err());
}

#[test]
fn the_five_distributions() {
    assert_eq!(dist("3ms"), Ok(Dist::Const(Duration::from_millis(3))));
    assert_eq!(
        dist("exp(200ms)"),
        Ok(Dist::Exp {
            mean: Duration::from_millis(200)
        })
    );
    assert_eq!(
        dist("uniform(1ms, 3ms)"),
        Ok(Dist::Uniform {
            low: Duration::from_millis(1),
            high: Duration::from_millis(3)
        })
    );
    assert_eq!(
        dist("normal(10ms,2ms)"),
        Ok(Dist::Normal {
            mean: Duration::from_millis(10),
            sd: Duration::from_millis(2)
        })
    );
    assert_eq!(
        dist("lognormal(10ms, 20ms)"),
        Ok(Dist::LogNormal {
            mean: Duration::from_millis(10),
            sd: Duration::from_millis(20)
        })
    );
}

#[test]
fn bad_distributions() {
    assert_eq!(
        dist("expo(2ms)").unwrap_err().problem,
        "unknown distribution `expo`"
    );
    assert!(
        dist("exp(1ms, 2ms)")
            .unwrap_err()
            .problem
            .contains("takes 1")
    );
    assert!(
        dist("uniform(3ms, 1ms)")
            .unwrap_err()
            .problem
            .contains("LOW above HIGH")
    );
    assert!(dist("exp(2ms").unwrap_err().problem.contains("closing"));
    // What a flow map `{work: uniform(1ms, 3ms)}` hands over: say why.
    assert!(
        dist("uniform(1ms")
            .unwrap_err()
            .problem
            .contains("quote it")
    );
    let e = dist("exp(2)").unwrap_err();
    assert_eq!(e.problem, "`2` has no unit");
    assert_eq!(e.expected, DIST);
}

#[test]
fn rates_per_second_and_minute() {
    assert_eq!(rate("4/s"), Ok(4.0));
    assert_eq!(rate("300/m"), Ok(5.0));
    assert_eq!(rate("2.5/s"), Ok(2.5));
    assert_eq!(rate("4").unwrap_err().problem, "`4` has no `/s` or `/m`");
    assert_eq!(
        rate("4/h").unwrap_err().problem,
        "unknown unit `/h` in `4/h`"
    );
    assert!(rate("fast/s").is_err());
}

#[test]
fn ramps() {
    assert_eq!(
        ramp("1/s -> 20/s"),
        Ok(Ramp {
            from: 1.0,
            to: 20.0
        })
    );
    assert_eq!(ramp("60/m->2/s"), Ok(Ramp { from: 1.0, to: 2.0 }));
    assert_eq!(ramp("1/s").unwrap_err().expected, RAMP);
}

#[test]
fn sizes() {
    assert_eq!(size("0B"), Ok(0));
    assert_eq!(size("512B"), Ok(512));
    assert_eq!(size("4KiB"), Ok(4096));
    assert_eq!(size("1MiB"), Ok(1 << 20));
    assert_eq!(size("2GiB"), Ok(2 << 30));
    assert_eq!(
        size("4KB").unwrap_err().problem,
        "unknown unit `KB` in `4KB`"
    );
    assert_eq!(size("12").unwrap_err().problem, "`12` has no unit");
}

#[test]
fn percentages() {
    assert_eq!(percent("1%"), Ok(0.01));
    assert_eq!(percent("0.5%"), Ok(0.005));
    assert_eq!(percent("100%"), Ok(1.0));
    assert_eq!(percent("150%").unwrap_err().problem, "`150%` is over 100%");
    assert_eq!(
        percent("0.5").unwrap_err().problem,
        "`0.5` does not end in `%`"
    );
}

#[test]
fn factors() {
    assert_eq!(factor("10x"), Ok(10.0));
    assert_eq!(factor("1.5x"), Ok(1.5));
    assert!(factor("10").is_err());
}

#[test]
fn statuses_and_error_injection() {
    assert_eq!(status("UNAVAILABLE"), Ok(StatusCode(14)));
    assert_eq!(
        status("Unavailable").unwrap_err().problem,
        "unknown status `Unavailable` (did you mean `UNAVAILABLE`?)"
    );
    assert_eq!(
        errors("1% UNAVAILABLE"),
        Ok(ErrorInjection {
            rate: 0.01,
            status: StatusCode(14)
        })
    );
    assert_eq!(errors("2%").unwrap_err().expected, ERRORS);
    assert!(errors("200% INTERNAL").is_err());
}

#[test]
fn counts() {
    assert_eq!(count("4"), Ok(4));
    assert_eq!(count("0"), Ok(0));
    assert_eq!(count("-1").unwrap_err().problem, "`-1` is negative");
    assert_eq!(
        count("1.5").unwrap_err().problem,
        "`1.5` is not a whole number"
    );
    assert_eq!(seed("42"), Ok(42));
}
