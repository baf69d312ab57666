# gradserve's developer tasks. `make run` serves the API, `make test` runs every test; both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest-xdist workers: "auto" is one per core; PYTEST_WORKERS=0 runs in this process (for pdb).
PYTEST_WORKERS ?= auto
# Extra arguments for pytest (make test ARGS='-k softmax tests/engine') or the bench.
ARGS ?=

# Install stamps are keyed on the checksum of pyproject.toml and of the C accelerator's source
# (engine/program/_textfill.c, built by the editable install where a C compiler is present): a dependency or C
# edit reinstalls (and rebuilds the module in place), a touch does not, and a second `make test` spends no time on
# pip. Deleting .venv starts over.
KEY := $(firstword $(shell cat pyproject.toml engine/program/_textfill.c | cksum))
RUNTIME_STAMP := $(VENV)/.installed-runtime-$(KEY)
DEV_STAMP := $(VENV)/.installed-dev-$(KEY)

.PHONY: help run test test-full asan bench lint fuzz fuzz-cli load scale-test redteam screenshots install install-dev clean
.DEFAULT_GOAL := help

help:
	@echo "make run    serve the API on http://$(HOST):$(PORT) (NumPy engine; docs at /docs)"
	@echo "make test   run every test (pytest -n $(PYTEST_WORKERS)); ARGS='...' passes pytest arguments"
	@echo "make test-full  make test with the sampled suites run whole (forward AD and OpInfo on every sample)"
	@echo "make bench  run the benchmarks (python -m bench)"
	@echo "make lint   ruff check"
	@echo "make asan   the C accelerator (engine/program/_textfill.c) built with ASan+UBSan and its tests run under it"
	@echo "make fuzz   schemathesis against the OpenAPI schema of a local server (FUZZ_EXAMPLES=$(FUZZ_EXAMPLES))"
	@echo "make load   load test + 10-minute soak (python -m bench.load; ARGS='--soak-seconds 20' for short)"
	@echo "make scale-test  1 vs 2 API replicas behind HAProxy under podman-compose, a replica lost under load"
	@echo "make redteam  issue 14's attacks against a live local server, one line each (python -m bench.redteam)"
	@echo "make screenshots  the README's pictures of the playground (docs/img/), from the browser test"
	@echo "make clean  remove .venv and caches"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is pinned to 2.13.0 in the dev extra: it is the test oracle, and an unpinned torch pulls a CUDA build.
$(RUNTIME_STAMP): | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@rm -f $(VENV)/.installed-runtime-* && touch $@

$(DEV_STAMP): | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-dev-* $(VENV)/.installed-runtime-* && touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

run: $(RUNTIME_STAMP)
	$(BIN)/gradserve serve --host $(HOST) --port $(PORT)

# pytest exits 5 when it collected nothing. With ARGS that only means nothing matched the selection; on
# the whole suite it means the tests went missing, which must not pass as green.
#
# PYTHONDONTWRITEBYTECODE= (empty): Python's default, .pyc files written (git ignores __pycache__/). Where the
# environment sets it (this machine does), every server, compute worker and subprocess the tests start would
# compile engine/ and app/ from source again, ~0.3 s of CPU each (tests/app/test_server.py and
# test_client_cli.py: 37 s of CPU with it set, 29 s without; docs/runs/testtime.md).
PYTEST_ENV := PYTHONDONTWRITEBYTECODE=
test: $(DEV_STAMP)
	@$(PYTEST_ENV) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then \
	  $(if $(strip $(ARGS)),echo "make test: no test matched the selection"; exit 0, \
	       echo "make test: pytest collected no tests at all; the suite is missing"; exit 1); \
	fi; exit $$rc

# The suites that sample a fixed subset within make test's time run whole (each file's docstring says what make test
# samples): GRADSERVE_TEST_FULL=1 for tests/engine/test_forward_ad_ops.py (every sample, every check),
# test_ops.py (every sample in float32 too, not 3 per op), test_parallel.py (every layout in every dtype, both
# routes), tests/app/test_fuzz.py (120 examples per operation, not 60), tests/app/test_load_short.py (20 s
# instead of 10), test_rules.py (float32 at each sample's own size too), test_safety_special.py (polygamma(2) in every
# layout and dtype), test_lu_solve_memory.py (1000 broadcast matrices, not 500) and test_printing_decades.py (twice
# the hypothesis examples); GRADSERVE_OPINFO_FULL=1 for tests/engine/test_opinfo.py and test_methods_opinfo.py (every OpInfo
# sample of every covered op).
test-full: $(DEV_STAMP)
	$(PYTEST_ENV) GRADSERVE_TEST_FULL=1 GRADSERVE_OPINFO_FULL=1 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(ARGS)

# The C accelerator of the batch writer (engine/program/_textfill.c) built with AddressSanitizer and
# UndefinedBehaviorSanitizer over the editable install's module, its tests run under it (libasan preloaded into the
# uninstrumented interpreter, PYTHONMALLOC=malloc so that every object's memory is ASan's to check, not pymalloc's
# arenas; leaks not reported: the interpreter's own; pytest's -s, so that a report reaches the terminal), then the
# install's own module put back (it is kept aside first and restored on any exit, an interrupt included: an
# instrumented module left in place makes every process without libasan preloaded exit at import; review17 R6).
# A sanitizer report fails the run (halt_on_error, -fno-sanitize-recover).
TEXTFILL_SO = engine/program/_textfill$(shell $(BIN)/python -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
ASAN_TESTS ?= tests/engine/test_textfill.py tests/engine/test_batch_write.py tests/engine/test_batch_text.py
asan: $(DEV_STAMP)
	@set -e; kept=$$(mktemp); cp $(TEXTFILL_SO) $$kept; \
	  trap 'cp '"$$kept"' $(TEXTFILL_SO); rm -f '"$$kept" EXIT; trap 'exit 130' INT TERM; \
	  gcc -shared -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -I$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['include'])") \
	    engine/program/_textfill.c -o $(TEXTFILL_SO); \
	  PYTHONMALLOC=malloc ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  $(BIN)/python -m pytest -s -n 0 -p no:warnings $(ASAN_TESTS) $(ARGS)

bench: $(DEV_STAMP)
	$(BIN)/python -m bench $(ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

# Schema fuzzing (tests/app/test_fuzz.py): schemathesis generates requests from the app's own OpenAPI schema
# and sends them to a real server of this tree on a free port; every check but positive_data_acceptance
# (a schema-valid program may still be a wrong one: 422). `make test` runs it at 120 examples per
# operation (over 480 requests); `make fuzz` at FUZZ_EXAMPLES (5,000). `make fuzz-cli` runs schemathesis's own CLI instead
# (it reports schema findings rather than regressions); its cassettes stay under .venv/fuzz.
FUZZ_STAMP := $(VENV)/.installed-fuzz
FUZZ_EXAMPLES ?= 5000
$(FUZZ_STAMP): | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'schemathesis>=4,<5'
	@touch $@

fuzz: $(DEV_STAMP) $(FUZZ_STAMP)
	GRADSERVE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -n 0 -s tests/app/test_fuzz.py $(ARGS)
	GRADSERVE_FUZZ_OPS_EXAMPLES=150 GRADSERVE_FUZZ_OPS_HTTP=308 $(BIN)/python -m pytest -n 0 -q tests/engine/test_fuzz_ops.py

fuzz-cli: $(RUNTIME_STAMP) $(FUZZ_STAMP)
	@port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	$(BIN)/gradserve serve --host 127.0.0.1 --port $$port --log-level warning & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; \
	for _ in $$(seq 1 150); do \
	  $(BIN)/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$$port/healthz', timeout=1)" \
	    2>/dev/null && break; sleep 0.2; \
	done; \
	mkdir -p $(VENV)/fuzz && cd $(VENV)/fuzz && \
	$(abspath $(BIN))/schemathesis run http://127.0.0.1:$$port/openapi.json --checks all \
	  --max-examples $(FUZZ_EXAMPLES) $(ARGS)

# Load test + soak (bench/load.py): the highest rate with 0 errors for 60 s, then 10 minutes at 80% of it.
load: $(RUNTIME_STAMP)
	$(BIN)/python -m bench.load $(ARGS)

# Scale test (deploy/scale/scale_test.py; not in `make test`: it needs root and podman, and takes minutes):
# deploy/compose/compose.yaml under podman-compose, API replicas pinned one per CPU, wrk through HAProxy;
# figures in docs/SCALING.md. ARGS='--seconds 30 --rounds 3' for longer runs.
scale-test: $(DEV_STAMP)
	$(BIN)/python deploy/scale/scale_test.py $(ARGS)

# Red team (bench/redteam.py): the attacks that once hurt the service, against a server of this tree on a free
# port of 127.0.0.1, one table line each (status, time, worst /healthz latency, peak RSS, verdict); exits 1
# where any attack failed. ARGS='--only seed,headers' picks some; '--url URL --pid PID' attacks a running one.
redteam: $(RUNTIME_STAMP)
	$(BIN)/python -m bench.redteam $(ARGS)

# The README's pictures: tests/app/test_playground_browser.py drives the real page in Chromium and, with
# GRADSERVE_SCREENSHOTS set, leaves its screenshots there (elsewhere they go to a temporary folder).
screenshots: $(DEV_STAMP)
	GRADSERVE_SCREENSHOTS=docs/img $(BIN)/python -m pytest -n 0 tests/app/test_playground_browser.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
