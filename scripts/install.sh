#!/usr/bin/env bash
# Install what vtx needs on a fresh Debian machine: system tools (apt) and a project venv, from the lock.
#   scripts/install.sh cpu    the embedded CPU tier (the demo): locks/cpu.txt
#   scripts/install.sh all    every extra (tests, notebooks, GPU-tier libraries on CPU): locks/all.txt
# torch==2.13.0 is the CPU wheel on this machine's disk and is installed by pip first; every other
# package comes from the hashed lock with --no-deps, so nothing floats and nothing pulls a CUDA torch.
# A lock older than pyproject.toml/constraints.txt is refused (regenerate it with scripts/lock.sh).
# Re-running is cheap: a stamp records which lock was installed.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK_NAME="${1:-cpu}"
LOCK="locks/$LOCK_NAME.txt"
VENV="${VTX_VENV:-.venv}"
PY="${PYTHON:-python3}"
UV_VERSION=0.13.8
[ -f "$LOCK" ] || { echo "[install] no lock file $LOCK (expected cpu or all)" >&2; exit 2; }

recorded=$(sed -n 's/^# input-digest: //p' "$LOCK")
current=$(scripts/lock_digest.sh)
if [ "$recorded" != "$current" ]; then
  echo "[install] $LOCK is stale: pyproject.toml or constraints.txt changed since it was made" \
       "(lock $recorded, now $current). Run scripts/lock.sh and commit locks/." >&2
  exit 3
fi

need_apt=()
tools="ffmpeg:ffmpeg ffprobe:ffmpeg espeak-ng:espeak-ng sox:sox"
# the browser tests (tests/test_browser.py) drive Debian's chromium through playwright: no browser download
[ "$LOCK_NAME" = "all" ] && tools="$tools chromium:chromium"
for tool in $tools; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool##*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[install] apt: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${need_apt[@]}" | sort -u) >/dev/null
fi

[ -x "$VENV/bin/python" ] || { echo "[install] creating $VENV"; "$PY" -m venv "$VENV"; }
stamp="$VENV/.vtx-installed-$LOCK_NAME"
digest=$(cat "$LOCK" scripts/install.sh scripts/cpu_torch_fixups.py | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
  echo "[install] $LOCK already installed in $VENV"
  exit 0
fi
start=$SECONDS
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
echo "[install] torch==2.13.0 (CPU wheel on disk) and uv==$UV_VERSION"
"${PIP[@]}" install -c constraints.txt "torch==2.13.0" "uv==$UV_VERSION" 2> >(grep -v "is ignored" >&2)
echo "[install] $LOCK ($(grep -c '==' "$LOCK") packages, hashes checked)"
UV=("$VENV/bin/uv" pip install --python "$VENV/bin/python" --quiet --no-deps)
"${UV[@]}" --require-hashes -r "$LOCK"
"${UV[@]}" -e .
"$VENV/bin/python" scripts/cpu_torch_fixups.py
"$VENV/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "$digest" > "$stamp"
echo "[install] done in $((SECONDS - start)) s: $VENV ($LOCK)"
