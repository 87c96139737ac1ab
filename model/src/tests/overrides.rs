//! `--set` overrides through `load_str`: applied before validation, errors
//! that name them, and the YAML as run re-emitted so it loads the same.

use super::examples::DINER;
use crate::*;

fn sets(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

#[test]
fn overrides_change_the_topology_and_the_yaml_round_trips() {
    let o = sets(&[
        "load.customers.rate=8/s",
        "services.kitchen.workers=4",
        "settings.seed=9",
    ]);
    let loaded = load_str("diner.yaml", DINER, &o).unwrap();
    let t = &loaded.topology;
    assert_eq!(t.load[0].pattern.mean_rate(), Some(8.0));
    assert_eq!(t.services[0].workers, 4);
    assert_eq!(t.settings.seed, Some(9));
    assert_ne!(loaded.yaml, DINER);
    let again = load_str("as-run.yaml", &loaded.yaml, &[]).unwrap();
    assert_eq!(&again.topology, t, "{}", loaded.yaml);
}

#[test]
fn an_error_in_an_overridden_value_points_at_the_original_line() {
    let e = load_str("diner.yaml", DINER, &sets(&["services.kitchen.workers=0"])).unwrap_err();
    assert_eq!(e.errors.len(), 1, "{e}");
    let want = "\
error: `workers` must be at least 1, found `0`
  --> diner.yaml:6:14
   |
 6 |     workers: 1          # one cook: one order at a time
   |              ^
   = note: set by `--set services.kitchen.workers=0`
   = help: set `workers` to 1 or more";
    assert_eq!(e.errors[0], want);
}

#[test]
fn a_bad_override_is_reported_with_the_other_errors() {
    let o = sets(&[
        "services.kitchen.wrokers=2",
        "nonsense",
        "load.customers.rate.x=1",
    ]);
    let e = load_str("diner.yaml", DINER, &o).unwrap_err();
    assert_eq!(e.errors.len(), 3, "{e}");
    assert!(
        e.errors[0].contains("invalid override `--set nonsense`"),
        "{e}"
    );
    assert!(
        e.errors[1].contains("`--set load.customers.rate.x=1`: `load.customers.rate` is not a map"),
        "{e}"
    );
    assert!(e.errors[1].contains("diner.yaml:16:11"), "{e}");
    assert!(
        e.errors[2].contains("unknown key `wrokers` in service `kitchen`"),
        "{e}"
    );
    assert!(
        e.errors[2].contains("set by `--set services.kitchen.wrokers=2`"),
        "{e}"
    );
    assert!(e.errors[2].contains("did you mean `workers`?"), "{e}");
}
