# One task runner: `make check`, `make generate`, `make test`, `make bench`.
PYTHON ?= python3
export PATH := $(HOME)/go/bin:$(PATH)

.PHONY: install check lint typecheck imports proto-check generate test bench bench-full validator

install:
	$(PYTHON) -m pip install -q -e '.[dev]'

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

typecheck:
	$(PYTHON) -m mypy

imports:
	lint-imports

proto-check:
	buf lint
	buf format -d --exit-code
	tools/generate-proto
	git diff --exit-code -- clustercode/api

check: lint typecheck imports proto-check

generate:
	tools/generate-proto

validator:
	cd tools/argo-validate && go build -o argo-validate .

test: install
	$(PYTHON) -m pytest -n 2

# Reduced sizes (a few minutes); `make bench ARGS=--full` or `make bench-full` for the sizes the
# README quotes (a million files and jobs: about an hour, several GB of disk and Redis memory).
# Each benchmark ends with one summary line, `figure: value (target)`.
BENCHMARKS = bench_pipeline bench_scan bench_library_scan bench_history bench_watch bench_cluster

bench:
	@for b in $(BENCHMARKS); do echo "== $$b"; $(PYTHON) -m benchmarks.$$b $(ARGS) || exit 1; done

bench-full:
	$(MAKE) bench ARGS=--full
