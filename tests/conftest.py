"""Tests compose the real configs (configs/) and shrink them with the `tiny` preset and a tmp data_dir."""

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import hypershape.config  # noqa: F401  (registers the schema)

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def make_cfg(*overrides: str):
    with initialize_config_dir(str(ROOT / "configs"), version_base=None):
        return compose("config", overrides=list(overrides))


@pytest.fixture
def tiny_cfg(tmp_path):
    def make(*overrides: str):
        return make_cfg("preset=tiny", f"data_dir={tmp_path}", *overrides)

    return make
