#!/usr/bin/env bash
# Set up, then run all nine stages on the `default` preset (12 procedural objects, CPU) and print the
# results table. Extra arguments are Hydra overrides, e.g. `mapper=direct` or `preset=n100 device=cuda`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/python.sh
export PYOPENGL_PLATFORM=egl
exec "$PY" run_pipeline.py "$@"
