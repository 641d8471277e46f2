#!/usr/bin/env bash
# Shared by scripts/demo, scripts/test and scripts/lock: make ./.venv with the product and
# the Bot API emulator (a separate distribution, tools/botapi-emulator) installed from the
# lock, requirements/constraints.txt. Sourced, not run: sets root and VENV_PY.
# The optional argument is an extra to install with both, e.g. "test".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extra="${1:-}"
python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
VENV_PY="$root/.venv/bin/python"
constraints="$root/requirements/constraints.txt"
emulator="$root/tools/botapi-emulator"
stamp="$root/.venv/.installed${extra:+-$extra}"
# Whether the install stamp $1 exists and no dependency list or lock changed after it.
fresh() {
  [ -f "$1" ] || return 1
  local input
  for input in "$root/pyproject.toml" "$emulator/pyproject.toml" "$constraints"; do
    if [ "$input" -nt "$1" ]; then return 1; fi
  done
  return 0
}
needs_install=1
if [ -x "$VENV_PY" ]; then
  if fresh "$stamp"; then
    needs_install=0
  elif [ -z "$extra" ]; then
    # An install with an extra (./scripts/test's) holds everything the plain one needs.
    for other in "$root"/.venv/.installed-*; do
      if fresh "$other"; then needs_install=0; break; fi
    done
  fi
fi
pip_install() {
  # PIP_CONSTRAINT also pins what pip puts in the isolated build environments (setuptools).
  PIP_CONSTRAINT="$constraints" "$VENV_PY" -m pip install --quiet --disable-pip-version-check \
    -c "$constraints" "$@" 2> >(grep -v "is neither a file nor a directory" >&2)
}
if [ "$needs_install" -eq 1 ]; then
  # Said first: making the venv and installing take a while, and must not look like a hang.
  echo "Installing the assistant and its tools into ./.venv (the first time takes a minute)…" >&2
  if [ ! -x "$VENV_PY" ]; then
    "$python_bin" -m venv "$root/.venv"
  fi
  pip_install -e "$root${extra:+[$extra]}"
  # The emulator as a plain path in a .pth (compat mode), not an import hook, so that
  # mypy finds it (with its py.typed) where the product's demo imports it.
  pip_install --config-settings editable_mode=compat -e "$emulator${extra:+[$extra]}"
  touch "$stamp"
fi
