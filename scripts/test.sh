#!/usr/bin/env bash
# Set up, then run the whole test suite (a few minutes on 2 CPU cores; no GPU needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYOPENGL_PLATFORM=egl
exec "${PYTHON:-python3}" -m pytest -q "$@"
