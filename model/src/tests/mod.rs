//! End-to-end tests of `load_str`: the spec's examples, each kind of error
//! with its location and message, warnings, and `--set` overrides.

mod errors;
mod examples;
mod fleet;
mod overrides;
