# Two commands on a fresh machine (Debian, Python 3.11, no GPU):
#   make demo   installs the embedded CPU tier and transcribes a sample recording into subtitles
#   make test   installs everything the tests need and runs them
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench install install-all lock clean

install:
	scripts/install.sh cpu

install-all:
	scripts/install.sh all

demo: install
	@sample=$$($(PY) -m vtxlib.testing.samples) && echo "sample recording: $$sample" && \
	  $(PY) -m vtxlib run "$$sample" --out out

test: install-all
	$(PY) -m pytest -q

bench: install-all
	$(PY) bench/run.py

lock:
	scripts/lock.sh

clean:
	rm -rf out vtx-workspace .pytest_cache
