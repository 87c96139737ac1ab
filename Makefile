# A thin wrapper over cargo: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
TOPO ?= topologies/diner.yaml
ARGS ?=

.PHONY: build run test bench lint fmt

build:
	cargo build --release

# The first build takes minutes: say so at once, and let cargo show its
# progress (no --quiet) before the run's own output.
run:
	@echo "make run: building topolab (release; the first build takes a few minutes, later ones seconds), then running $(TOPO)"
	cargo run --release -- run $(TOPO) $(ARGS)

# The last line tallies every test binary's result, so the closing line is
# the whole suite's count, not the last (possibly empty) binary's. A test
# whose peer (Docker, Prometheus, Chromium, ...) is missing outside CI
# returns early, which the harness counts as passed: it is listed in
# SKIP_LOG (tests/common/peers.rs) and counted as skipped instead. In CI
# (`CI` set) a missing peer fails its test. The tally is printed whether or
# not tests failed (every test binary runs: --no-fail-fast); the recipe
# fails with the tests.
SKIP_LOG := $(CURDIR)/target/test-skips.log

test:
	@mkdir -p target
	@: > $(SKIP_LOG)
	@set -o pipefail; TOPOLAB_SKIP_LOG=$(SKIP_LOG) cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.log; status=$$?; \
	  sort -u $(SKIP_LOG) | sed 's/^/skipped: /; s/\t/: /'; \
	  skipped=$$(cut -f1 $(SKIP_LOG) | sort -u | wc -l); \
	  awk -v s=$$skipped '/^test result:/ {p += $$4; f += $$6} END {printf "tests: %d passed, %d failed, %d skipped\n", p - s, f, s}' target/test-output.log; \
	  exit $$status

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
