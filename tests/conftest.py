"""Tests compose the real configs (configs/) and shrink them with the `tiny` preset and a tmp data_dir."""

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import hypershape.config  # noqa: F401  (registers the schema)
from hypershape.paths import paths_of
from hypershape.runtime import Manifest, load_json

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def make_cfg(*overrides: str):
    with initialize_config_dir(str(ROOT / "configs"), version_base=None):
        return compose("config", overrides=list(overrides))


def records(cfg, stage: str, split: str | None = None) -> dict:
    """{object id: its record in the stage's manifest} of a run's objects (of one split, if given)."""
    p = paths_of(cfg)
    manifest = Manifest(p.manifest(stage), p.root)
    return {o["id"]: manifest.get(o["id"]) for o in load_json(p.objects) if split in (None, o.get("split"))}


@pytest.fixture
def tiny_cfg(tmp_path):
    def make(*overrides: str):
        return make_cfg("preset=tiny", f"data_dir={tmp_path}", *overrides)

    return make
