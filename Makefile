# One task runner: `make check`, `make generate`, `make test`, `make bench`.
PYTHON ?= python3
export PATH := $(HOME)/go/bin:$(PATH)

.PHONY: install check lint typecheck imports proto-check generate test test-media bench bench-full validator

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

# The media tests alone, for each extra ffmpeg of the matrix (CLUSTERCODE_FFMPEG selects it).
MEDIA_TESTS = tests/pipelines/test_ffmpeg_check.py tests/pipelines/test_steps_media.py \
	tests/pipelines/test_steps_failures.py tests/integration/test_local_pipeline.py

test-media:
	$(PYTHON) -m pytest -n 2 $(MEDIA_TESTS)

# Reduced sizes (a few minutes); `make bench ARGS=--full` or `make bench-full` for the sizes the
# README quotes (a million files and jobs: about an hour, several GB of disk and Redis memory).
# Each benchmark ends with one summary line, `figure: value (target)`.
BENCHMARKS = bench_pipeline bench_scan bench_library_scan bench_history bench_watch bench_cluster

# Every benchmark runs; the exit status is 1 if any missed its target.
bench:
	@status=0; for b in $(BENCHMARKS); do \
		echo "== $$b"; $(PYTHON) -m benchmarks.$$b $(ARGS) || status=1; \
	done; exit $$status

bench-full:
	$(MAKE) bench ARGS=--full

# Packaging, checked without a container runtime: the dependency lock, the Containerfile and
# compose.yaml. `make lock` after editing dependencies in pyproject.toml (keeps every pin that
# still fits); `make lock-upgrade` moves every pin to the newest version pyproject.toml allows.
.PHONY: lock lock-upgrade lock-check hadolint compose-validator compose-check packaging-check

lock:
	UV="$(PYTHON) -m uv" tools/lock

lock-upgrade:
	UV="$(PYTHON) -m uv" tools/lock --upgrade

lock-check:
	UV="$(PYTHON) -m uv" tools/lock --check

hadolint:
	hadolint --failure-threshold style Containerfile

compose-validator:
	cd tools/compose-validate && go build -o compose-validate .

compose-check: compose-validator
	CLUSTERCODE_LIBRARY=/srv/media CLUSTERCODE_OUTPUT=/srv/transcoded \
	  tools/compose-validate/compose-validate compose.yaml

packaging-check: lock-check hadolint compose-check
