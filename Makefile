# A thin wrapper over cargo: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
TOPO ?= topologies/diner.yaml
ARGS ?=

.PHONY: build run test bench lint fmt

build:
	cargo build --release

run:
	cargo run --release --quiet -- run $(TOPO) $(ARGS)

# The last line tallies every test binary's result, so the closing line is
# the whole suite's count, not the last (possibly empty) binary's.
test:
	@mkdir -p target
	set -o pipefail; cargo test --workspace 2>&1 | tee target/test-output.log
	@awk '/^test result:/ {p += $$4; f += $$6} END {printf "tests: %d passed, %d failed\n", p, f}' target/test-output.log

bench:
	cargo build --release --workspace
	cargo run --release --quiet -p topolab-bench -- $(BENCH)

# cargo-machete fails on a dependency that no crate uses (install it with
# `cargo install cargo-machete --locked`; .ci/run does).
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo machete

fmt:
	cargo fmt --all
