# A thin wrapper over cargo: the two set-up commands are `make run` and `make test`.
TOPO ?= topologies/diner.yaml
ARGS ?=

.PHONY: build run test bench lint fmt

build:
	cargo build --release

run:
	cargo run --release --quiet -- run $(TOPO) $(ARGS)

test:
	cargo test --workspace

bench:
	cargo build --release --workspace
	cargo run --release --quiet -p topolab-bench -- $(BENCH)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all
