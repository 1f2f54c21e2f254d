#!/usr/bin/env bash
# Set up, then run the whole test suite (5 to 12 minutes on 2 CPU cores, as fast as the machine is that day; no GPU needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/python.sh
export PYOPENGL_PLATFORM=egl
# One worker per core (pytest-xdist), each test file on one worker: a file's module fixtures are built once,
# and the session's shared runs once for all workers (tests/conftest.py).
exec "$PY" -m pytest -q -n auto --dist loadscope "$@"
