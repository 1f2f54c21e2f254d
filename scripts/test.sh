#!/usr/bin/env bash
# Set up, then run the whole test suite (a few minutes on 2 CPU cores; no GPU needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/python.sh
export PYOPENGL_PLATFORM=egl
exec "$PY" -m pytest -q "$@"
