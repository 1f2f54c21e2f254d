"""The scripts as a user runs them: a mistake is one line `error: ...` with exit code 2, failed objects
exit 0 unless strict=true, a run remembers the overrides it was made with, --help documents the knobs."""

import os
import subprocess
import sys

import faulty_meshes
import pytest
from conftest import ROOT, copy_run, make_cfg
from omegaconf import OmegaConf

from hypershape.paths import STAGE_DIRS, Paths
from hypershape.settings import merge, remembered_part

ENV = dict(os.environ, PYOPENGL_PLATFORM="egl", PYTHONPATH=str(ROOT / "src"))


def script(name: str, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, f"{name}.py", *overrides], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600
    )


def assert_one_line_error(out: subprocess.CompletedProcess) -> str:
    """The error line of a run that stopped on a user's mistake (only log lines may come before it)."""
    assert out.returncode == 2, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if not line[:2].isdigit()]  # log lines start HH:MM:SS
    assert len(errors) == 1 and errors[0].startswith("error: "), out.stderr
    return errors[0]


def test_the_command_line_wins_over_what_is_remembered():
    remembered = ["hypernet=monolithic", "hypernet.steps=5", "mapper.steps=7"]
    assert merge(remembered, ["mapper.steps=9"]) == ["hypernet=monolithic", "hypernet.steps=5", "mapper.steps=9"]
    # a group given covers what was remembered under it; a key under a group leaves the group remembered
    assert merge(remembered, ["hypernet=per_layer"]) == ["mapper.steps=7", "hypernet=per_layer"]
    assert merge(["hypernet=monolithic"], ["+hypernet.heads=per_layer"])[0] == "hypernet=monolithic"
    kept = remembered_part(["preset=tiny", "name=x", "data_dir=/d", "shard.index=1", "strict=true", "seed=3"])
    assert kept == ["seed=3"]  # where the run is and how a job runs are not what it made


@pytest.mark.slow
def test_a_stage_before_its_upstream_stops_in_one_line(tmp_path):
    line = assert_one_line_error(script("70_train_mapper", "preset=tiny", f"data_dir={tmp_path}"))
    assert "50_train_hypernets.py" in line


@pytest.mark.slow
def test_a_config_hydra_cannot_compose_stops_in_one_line(tmp_path):
    assert "mapper.rout" in assert_one_line_error(script("70_train_mapper", "mapper.rout=x"))
    assert "many" in assert_one_line_error(script("70_train_mapper", "mapper.steps=many"))
    line = assert_one_line_error(script("70_train_mapper", "hypernet=nope"))
    assert "monolithic" in line and "per_layer" in line  # the options it has


@pytest.mark.slow
def test_a_folder_that_does_not_exist_stops_in_one_line_naming_it(tmp_path):
    missing = tmp_path / "no_such_folder"
    line = assert_one_line_error(
        script("01_download", "preset=tiny", f"data_dir={tmp_path}", "data=local", f"data.local_dir={missing}")
    )
    assert str(missing) in line


@pytest.mark.slow
def test_failed_objects_exit_0_and_are_counted_and_strict_makes_it_1(tmp_path):
    folder = faulty_meshes.write(tmp_path / "meshes")
    given = ("preset=tiny", f"data_dir={tmp_path}", "data=local", f"data.local_dir={folder}", "data.num_objects=50")
    out = script("01_download", *given)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"01_download: {len(faulty_meshes.BAD)} object(s) failed" in out.stderr
    assert script("01_download", *given, "strict=true").returncode == 1
    # a run of local meshes has a name of its own: the procedural run `tiny` is not touched
    assert (tmp_path / "tiny-local-meshes" / "01_download" / "objects.json").exists()
    assert not (tmp_path / "tiny").exists()


@pytest.mark.slow
def test_a_later_stage_uses_the_overrides_the_run_was_made_with(tiny_run, tmp_path):
    copy_run(tiny_run[0], tmp_path, until="60_weight_ae")
    run = ("preset=tiny", f"data_dir={tmp_path}")
    assert script("50_train_hypernets", *run, "hypernet=monolithic").returncode == 0
    out = script("70_train_mapper", *run)
    assert out.returncode == 0, out.stderr[-3000:]
    said = [line for line in out.stderr.splitlines() if "hypernet=monolithic" in line]
    assert len(said) == 1 and "made with" in said[0]
    p = Paths(tmp_path, "tiny")
    made = make_cfg("preset=tiny", f"data_dir={tmp_path}", "hypernet=monolithic")  # as if typed again
    assert p.run_config("70_mapper").read_text() == OmegaConf.to_yaml(made, resolve=True)
    assert "heads: monolithic" in p.run_config("70_mapper").read_text()
    status = script("status", *run)
    rows = [line.split() for line in status.stdout.splitlines() if line[:2].isdigit()]
    assert [r[0] for r in rows if r[1] != "not"] == list(STAGE_DIRS[: STAGE_DIRS.index("70_mapper") + 1])
    assert all(r[2] == "0" for r in rows if r[1] != "not"), status.stdout  # nothing stale

    # told otherwise on the command line, 70 would read hypernetworks made with other settings: it stops
    remembered = p.overrides.read_text()
    line = assert_one_line_error(script("70_train_mapper", *run, "hypernet=per_layer"))
    assert "hypernet.heads: made with monolithic, this config says per_layer" in line
    assert "python 50_train_hypernets.py" in line
    assert p.overrides.read_text() == remembered  # a refused command line is not remembered


@pytest.mark.slow
def test_help_says_what_the_stage_does_and_documents_its_knobs():
    out = script("70_train_mapper", "--help")
    assert out.returncode == 0, out.stderr
    assert "70_train_mapper: what the selected route (routes/<mapper.route>.py) learns" in out.stdout  # its docstring
    after = out.stdout.split("  mapper.route = latent\n", 1)[1].splitlines()
    doc = " ".join(line.strip() for line in after[: next(i for i, x in enumerate(after) if x[:6].strip())])
    assert "Which route turns an object's hypernetwork into a shape" in doc  # config.py's doc of it
    assert "mapper: decoder, direct, hybrid, latent, probe" in out.stdout  # the groups, from Hydra
