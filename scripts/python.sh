# Sourced by every script that runs Python (setup.sh, run_default.sh, test.sh, .ci/run): the one place
# that decides the interpreter, PY. An active virtual environment (VIRTUAL_ENV) or conda environment
# (CONDA_PREFIX) is used as it is. Otherwise the project's own environment, .venv/ at the repository root,
# which setup.sh makes from ${PYTHON:-python3}: a system Python (Debian, Ubuntu: PEP 668) refuses pip
# installs into itself.
if [ -n "${VIRTUAL_ENV:-}" ]; then
  PY="$VIRTUAL_ENV/bin/python"
elif [ -n "${CONDA_PREFIX:-}" ]; then
  PY="$CONDA_PREFIX/bin/python"
else
  PROJECT_VENV="$(pwd -P)/.venv"
  PY="$PROJECT_VENV/bin/python"
fi
