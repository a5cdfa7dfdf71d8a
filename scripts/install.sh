#!/usr/bin/env bash
# Install what vtx needs on a fresh Debian machine: system tools (apt) and a project venv.
#   scripts/install.sh cpu                      embedded CPU tier (the demo)
#   scripts/install.sh cpu,gpu,notebooks,...    more extras (see pyproject.toml)
# torch is pinned to 2.13.0 (CPU wheel on disk) through constraints.txt, for every pip call.
# Re-running is cheap: a stamp records what was installed from which pyproject/constraints.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-cpu}"
VENV="${VTX_VENV:-.venv}"
PY="${PYTHON:-python3}"

need_apt=()
for tool in ffmpeg:ffmpeg ffprobe:ffmpeg espeak-ng:espeak-ng sox:sox; do
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
stamp="$VENV/.vtx-installed-$(echo "$EXTRAS" | tr ',' '-')"
digest=$(cat pyproject.toml constraints.txt scripts/install.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
  echo "[install] $EXTRAS already installed in $VENV"
  exit 0
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip "setuptools<81" wheel
echo "[install] torch==2.13.0 (CPU)"
"${PIP[@]}" install -q -c constraints.txt "torch==2.13.0"
echo "[install] vtxlib[$EXTRAS]"
"${PIP[@]}" install -q -c constraints.txt -e ".[$EXTRAS]"
if [ -f scripts/cpu_torch_fixups.py ]; then
  "$VENV/bin/python" scripts/cpu_torch_fixups.py
fi
"$VENV/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "$digest" > "$stamp"
echo "[install] done: $VENV ($EXTRAS)"
