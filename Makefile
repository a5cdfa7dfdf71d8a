# Two commands on a fresh machine (Debian, Python 3.11, no GPU):
#   make demo   installs the embedded CPU tier and transcribes a sample recording into subtitles
#   make test   installs everything the tests need and runs them
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-random bench install install-all lock lock-check clean

install:
	scripts/install.sh cpu

install-all:
	scripts/install.sh all

demo: install
	@sample=$$($(PY) -m vtxlib.testing.samples) && echo "sample recording: $$sample" && \
	  $(PY) -m vtxlib run "$$sample" --out out

test: install-all
	$(PY) -m pytest -q

# The suite with its modules, and the tests inside each module, in a random order
# (pytest-random-order), to find tests that depend on what ran before them. A failing order is
# replayed with `make test-random SEED=<the seed it printed>`.
test-random: install-all
	@seed=$${SEED:-$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}; \
	  echo "random order seed $$seed (replay: make test-random SEED=$$seed)"; \
	  $(PY) -m pytest -q --random-order-seed=$$seed $(PYTEST_ARGS)

bench: install-all
	$(PY) bench/run.py

lock:
	scripts/lock.sh

# Reports how today's registry would resolve the locks differently (network; never part of `make test`).
lock-check: install
	scripts/lock.sh --drift
	$(PY) tools/lock_colab.py --drift

clean:
	rm -rf out vtx-workspace .pytest_cache
