# One task runner: `make check`, `make generate`, `make test`, `make bench`.
PYTHON ?= python3
export PATH := $(HOME)/go/bin:$(PATH)

.PHONY: install check lint typecheck imports proto-check generate test test-media bench bench-full \
	validator argo-harness e2e-argo

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

# Argo's workflow-controller in-process with a process kubelet (docs/argo.md).
argo-harness:
	cd tools/argo-harness && nice -n 10 go build -o argo-harness .

# The Argo end-to-end tests: they run on tools/argo-harness.
E2E_ARGO := tests/integration/test_argo_executor.py tests/integration/test_argo_executor_errors.py \
	tests/integration/test_argo_controller.py \
	tests/integration/test_argo_service.py tests/integration/test_service_argo_down.py \
	tests/integration/test_service_argo_restart.py tests/integration/test_argo_pod_security.py

COOKBOOK_ARGO := tests/integration/test_cookbook.py::test_every_cookbook_line_works[argo] \
	tests/integration/test_cookbook.py::test_missing_token_is_refused_but_health_is_open[argo]

test: install
	$(PYTHON) -m pytest -n 2 $(addprefix --ignore=,$(E2E_ARGO)) $(addprefix --deselect=,$(COOKBOOK_ARGO))

e2e-argo: argo-harness
	@mkdir -p .state
	@$(PYTHON) -m pytest -n 2 -q $(E2E_ARGO) $(COOKBOOK_ARGO) \
		> .state/e2e-argo.log 2>&1; status=$$?; \
		if [ $$status -ne 0 ]; then grep -E '^(FAILED|ERROR) ' .state/e2e-argo.log; tail -n 80 .state/e2e-argo.log; fi; \
		echo "e2e-argo: $$(tail -n 1 .state/e2e-argo.log | tr -d '=' | sed 's/^ *//') on Argo's workflow-controller v4.0.5 (log: .state/e2e-argo.log)"; \
		exit $$status

# The media tests alone, for each extra ffmpeg of the matrix (CLUSTERCODE_FFMPEG selects it).
MEDIA_TESTS = tests/pipelines/test_ffmpeg_check.py tests/pipelines/test_steps_media.py \
	tests/pipelines/test_steps_failures.py tests/pipelines/test_steps_join.py \
	tests/integration/test_local_pipeline.py

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
