#!/usr/bin/env bash
# Shared by scripts/demo and scripts/test: make ./.venv with the project installed.
# Sourced, not run: sets VENV_PY.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extra="${1:-}"
python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if [ ! -x "$root/.venv/bin/python" ]; then
  "$python_bin" -m venv "$root/.venv"
fi
VENV_PY="$root/.venv/bin/python"
stamp="$root/.venv/.installed${extra:+-$extra}"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  "$VENV_PY" -m pip install --quiet --disable-pip-version-check -e "$root${extra:+[$extra]}" \
    2> >(grep -v "is neither a file nor a directory" >&2)
  touch "$stamp"
fi
