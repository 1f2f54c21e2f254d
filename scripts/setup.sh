#!/usr/bin/env bash
# Set up a fresh machine: Mesa EGL (headless pyrender), torch, and this package with its test extras.
# Idempotent: a second run checks and installs nothing. Installs into the active virtual environment, or
# into the project's own .venv/ when none is active (made from ${PYTHON:-python3}): scripts/python.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python.sh

if ! ldconfig -p | grep -q libEGL_mesa; then
  echo "setup: installing Mesa EGL for headless rendering"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 >/dev/null
fi
# Chromium: the results page's browser test (tests/test_page.py) drives it headless with playwright.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  echo "setup: installing chromium for the results page's browser test"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ -n "${PROJECT_VENV:-}" ] && ! "$PY" -m pip --version >/dev/null 2>&1; then
  BASE=${PYTHON:-python3}
  if ! "$BASE" -c "import ensurepip" 2>/dev/null; then  # Debian and Ubuntu ship venv's pip separately
    echo "setup: installing python3-venv (no virtual environments without it)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  fi
  echo "setup: making the project's virtual environment in $PROJECT_VENV (from $BASE)"
  "$BASE" -m venv --clear "$PROJECT_VENV"  # --clear: a half-made one (no pip) is made again
fi

# Installed when one Python start can import everything the project and its tests use, torch is 2.13.0, and
# `hypershape` is this checkout (not another clone's editable install). That import writes the bytecode of the
# modules it loads, whatever PYTHONDONTWRITEBYTECODE says: pip installs with --no-compile, because compiling
# every module of every package (torch's thousands) costs more than the packages' unpacking itself. It imports
# every module of the package and what they import only when called (torch._dynamo, which every optimizer
# loads, with sympy; pyplot; TensorBoard's writer): where PYTHONDONTWRITEBYTECODE is set, a process would
# otherwise compile those 28 MB of source at each start (a tiny run of the nine stages: 27 CPU-s, not 36).
here=$(pwd -P)/src/hypershape
installed() {
  PYTHONDONTWRITEBYTECODE= "$PY" -c "import sys, os, importlib, pkgutil
import torch, hypershape, pyrender, igl, manifold3d, hydra, objaverse, skimage
import pytest, xdist, filelock, ruff, submitit, playwright, fast_simplification, h5py, tensorboard
import hydra_plugins.hydra_joblib_launcher, hydra_plugins.hydra_submitit_launcher
import torch._dynamo, matplotlib.pyplot, torch.utils.tensorboard
for m in pkgutil.walk_packages(hypershape.__path__, 'hypershape.'):
    importlib.import_module(m.name)
ok = torch.__version__.startswith('2.13.0') and os.path.realpath(os.path.dirname(hypershape.__file__)) == '$here'
print('torch', torch.__version__)
sys.exit(0 if ok else 1)" 2>/dev/null
}
if ! made=$(installed); then
  # One pip call: pyproject.toml pins torch (an unpinned resolve would pull the multi-GB CUDA build on a CPU
  # machine), so the package, its dependencies and the test extra resolve together.
  "$PY" -m pip install -q --no-compile -e ".[test]"
  made=$(installed) || { echo "setup: installed, but the packages above do not import" >&2; exit 1; }
fi
echo "setup: ok, $PY ($made)"
