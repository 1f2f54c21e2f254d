"""The stage table (stage_specs.py) is the one description of the stages: every row has its script and
module, and paths, provenance, status, the pipeline and Stage follow a change to the table, so none of them
can keep a stage list of its own."""

import dataclasses
import importlib.util
import subprocess
import sys

import pytest
from conftest import ROOT

from hypershape import pipeline
from hypershape.nets.checkpoint import ARCHITECTURE
from hypershape.objects import RunObject, Subset, save_objects
from hypershape.paths import Paths, paths_of
from hypershape.provenance import numerics, object_config, shared_config, stage_numerics
from hypershape.runtime import MissingUpstream, Stage
from hypershape.stage_specs import STAGES, StageSpec, made_by
from hypershape.status import expected_parts, run_status

OBJECTS = [
    RunObject("a", "test", "a", split=Subset.train),
    RunObject("b", "test", "b", split=Subset.test),
    RunObject("c", "test", "c", split=Subset.test),
    RunObject("d", "test", "d", status="failed", split=Subset.train),
]


def test_every_stage_has_its_script_and_module_and_reads_only_earlier_stages():
    for i, (folder, spec) in enumerate(STAGES.items()):
        assert spec.folder == folder
        assert (ROOT / f"{spec.script}.py").is_file(), f"{folder}: no script {spec.script}.py at the repository root"
        assert importlib.util.find_spec(f"hypershape.stages.{spec.module}") is not None, folder
        assert set(spec.upstream) <= set(list(STAGES)[:i]), f"{folder} reads a stage that runs after it"
    assert len({s.script for s in STAGES.values()}) == len(STAGES)


def test_each_network_section_is_made_by_one_stage():
    assert {section: made_by(section).folder for section in ARCHITECTURE} == {
        "hypernet": "50_hypernets",
        "weight_ae": "60_weight_ae",
        "mapper": "70_mapper",
    }


def test_the_pipeline_runs_the_table_in_its_order():
    assert list(pipeline.STAGE_OF_SCRIPT.values()) == list(STAGES.values())


@pytest.fixture
def extra_stage(monkeypatch):
    """A tenth stage added to the table alone: routed, device-dependent, evaluated only, reading 03."""
    spec = StageSpec(
        "95_extra",
        "95_extra",
        "extra",
        lambda cfg: dict(extra=cfg.seed),
        upstream=("03_render_views",),
        routed=True,
        device_dependent=True,
        evaluated_only=True,
    )
    monkeypatch.setitem(STAGES, spec.folder, spec)
    return spec


def test_a_stage_added_to_the_table_is_known_to_paths_provenance_and_status(tiny_cfg, extra_stage):
    cfg = tiny_cfg("eval_splits=[test]")
    p = paths_of(cfg)
    assert p.stage("95_extra") == p.root / "95_extra" / cfg.mapper.route.value
    assert object_config(cfg, "95_extra") == dict(extra=cfg.seed) == shared_config(cfg, "95_extra", "any")
    assert stage_numerics(cfg, "95_extra") == numerics(cfg)
    assert expected_parts(cfg, "95_extra")["numerics"] == numerics(cfg)
    save_objects(p.objects, OBJECTS)
    status = run_status(cfg)
    assert list(status) == list(STAGES)  # status walks the table, extra stage included, in its order
    assert status["95_extra"]["total"] == 2  # the two test objects: evaluated only
    assert status["03_render_views"]["total"] == 3  # every object 01 fetched


def test_status_and_keys_follow_each_row_of_the_table(tiny_cfg, monkeypatch):
    cfg = tiny_cfg("eval_splits=[test]")
    save_objects(paths_of(cfg).objects, OBJECTS)
    status = run_status(cfg)
    for folder, spec in STAGES.items():
        assert ("numerics" in expected_parts(cfg, folder)) == spec.device_dependent, folder
        if folder != "01_download":
            assert status[folder]["total"] == (2 if spec.evaluated_only else 3), folder
    # flip every property of 40 in the table: paths, keys and status follow
    flipped = dataclasses.replace(STAGES["40_image_sirens"], routed=True, device_dependent=False, evaluated_only=True)
    monkeypatch.setitem(STAGES, "40_image_sirens", flipped)
    assert Paths("d", "run", route="direct").stage("40_image_sirens").parts[-2:] == ("40_image_sirens", "direct")
    assert stage_numerics(cfg, "40_image_sirens") is None
    assert run_status(cfg)["40_image_sirens"]["total"] == 2


def test_stage_reads_its_upstream_from_the_table(tiny_cfg, monkeypatch):
    cfg = tiny_cfg()
    with pytest.raises(MissingUpstream, match=r"run `python 40_train_image_sirens\.py`"):
        Stage(cfg, "50_hypernets")
    reads_02 = dataclasses.replace(STAGES["50_hypernets"], upstream=("02_watertight",))
    monkeypatch.setitem(STAGES, "50_hypernets", reads_02)
    with pytest.raises(MissingUpstream, match=r"run `python 02_watertight\.py`"):
        Stage(cfg, "50_hypernets")


def test_status_and_the_table_import_no_torch():
    """status reads the table and must start fast: importing them pulls in no torch."""
    code = "import sys, hypershape.status, hypershape.stage_specs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
