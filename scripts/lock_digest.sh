#!/usr/bin/env bash
# The digest a lock file records of its inputs: pyproject.toml's dependencies and constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
cat pyproject.toml constraints.txt | sha256sum | cut -c1-16
