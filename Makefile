# The commands people type. `make run` and `make test` install what they
# need first (scripts/setup.sh), so both work on a fresh Debian machine.

export PATH := $(CURDIR)/.tools/venv/bin:$(CURDIR)/tools/node_modules/.bin:$(PATH)

.PHONY: run test lint bench bench-cluster bench-workers bench-holds bench-watch bench-access bench-http breaking deploy-check setup

## Serve on 0.0.0.0:50051 with a private redis-server (--dev), and the
## console at http://localhost:50051/console/
run:
	@scripts/setup.sh run
	cargo run --release -- --dev --console

## Every check: formatting, clippy, buf lint, the deployment manifests, unit
## and integration tests (the README's grpcurl and curl examples included),
## the Python and Node example clients and stock Connect / gRPC-Web clients
## against a live service, and the console in headless Chromium.
test: setup lint deploy-check
	cargo test --workspace --all-targets
	scripts/check-clients.sh target/debug/rmw
	scripts/check-console.sh target/debug/rmw

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	buf lint

## The load generator: rmw side by side with the same scripts run directly
## (redis-benchmark, redis-py); prints the figures, writes bench-out/.
bench:
	@scripts/setup.sh bench
	cargo build --release --workspace
	target/release/rmw-bench

## The scale-out curve: the same loads against local Redis Clusters of 1, 3
## and 6 primaries; writes bench-out/cluster.md and cluster.svg.
bench-cluster:
	@scripts/setup.sh bench
	cargo build --release --workspace
	target/release/rmw-bench --cluster 1,3,6 --concurrency 64,256 --duration 3s

## Holds: HoldStock + CommitHold pairs at 64 callers, and PlaceOrder after
## 1,000 holds came due; writes bench-out/holds.md.
bench-holds:
	@scripts/setup.sh bench
	cargo build --release --workspace
	target/release/rmw-bench --holds --duration 5s

## Watches' figures: delivery latency with 1/100/1,000 watchers, memory
## with 1,000 idle watches, the record journal's cost (bench-out/watch.md).
bench-watch:
	@scripts/setup.sh bench
	cargo build --release --workspace
	target/release/rmw-bench --watch --duration 5s

## What access control costs a call: no policy, a bearer token sent, a
## 100-rule policy checking it (bench-out/access.md).
bench-access:
	@scripts/setup.sh bench
	cargo build --release --workspace
	target/release/rmw-bench --access --duration 5s

## What the HTTP paths cost: CompareAndSwap at 64 callers over gRPC, Connect
## JSON on HTTP/2 and on HTTP/1.1 (bench-out/http.md).
bench-http:
	@scripts/setup.sh bench
	cargo build --release --workspace
	target/release/rmw-bench --http --duration 5s

## The multi-core sweep: rmw with 1, 2, 4, 8 and 16 worker threads, the
## load generator on 4; writes bench-out/workers.md and workers.svg.
bench-workers:
	@scripts/setup.sh bench
	cargo build --release --workspace
	target/release/rmw-bench --workers 1,2,4,8,16 --client-threads 4 --concurrency 64,256 --duration 3s

## Breaking changes to proto/ against a release (before tagging the next):
##   make breaking AGAINST='.git#tag=v0.1.0'
AGAINST ?= .git\#branch=main
breaking: setup
	buf breaking --against '$(AGAINST)'

## Dockerfile lint, kustomize render + Kubernetes schema validation (offline).
deploy-check:
	scripts/check-deploy.sh

setup:
	@scripts/setup.sh test
