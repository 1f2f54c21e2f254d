"""The nine stages end to end on the tiny preset, in-process; reruns, changed config, failures."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import trimesh
from conftest import ROOT, THREADS, copy_run, make_cfg
from hydra.errors import ConfigCompositionException

from hypershape.objects import Subset, load_objects
from hypershape.paths import paths_of
from hypershape.pipeline import run_all, run_stage
from hypershape.runtime import Manifest, MissingUpstream, load_json


@pytest.mark.slow
def test_all_nine_stages_run_and_write_what_design_md_lists(tiny_run):
    cfg, results = tiny_run
    p = paths_of(cfg)
    assert all(r["failed"] == 0 for r in results.values()), results
    objects = load_objects(p.objects)
    assert len(objects) == 4 and {o.split for o in objects} == set(Subset)
    o = objects[0].id
    for f in (
        p.solid(o),
        p.sdf_samples(o),
        p.surface(o),
        p.topology(o),
        p.views(o),
        p.image_anchor,
        p.image_sirens(o),
        p.hypernet_anchor,
        p.hypernet(o),
        p.shape_anchor,
        p.target(o),
        p.weight_ae,
        p.latents,
        p.ae_diagnostics,
        p.mapper,
        p.shape_sirens(o),
        p.mesh(o, "target"),
        p.metrics_csv,
        p.summary_json,
        p.summary_md,
        p.summary_png,
        p.index_html,
    ):
        assert f.exists(), f
    views = np.load(p.views(o))
    assert views["rgba"].shape == (24, 16, 16, 4) and views["cam_to_world"].shape == (24, 4, 4)
    assert torch.load(p.image_sirens(o), weights_only=False)["flat"].shape[0] == 24
    assert torch.load(p.latents, weights_only=False)["latents"][o].shape == (cfg.weight_ae.latent,)


@pytest.mark.slow
def test_summary_has_every_split_and_kind_and_no_nan(tiny_run):
    cfg, _ = tiny_run
    s = load_json(paths_of(cfg).summary_json)
    keys = {(r["split"], r["kind"]) for r in s["summary"]}
    assert keys == {(sp, k) for sp in ("train", "test") for k in ("target", "predicted", "refined", "oracle_depth")}
    for r in s["summary"]:
        assert all(np.isfinite(v) for k, v in r.items() if k.startswith(("median_", "mean_")))
    assert len(s["rows"]) == 4 * 4
    assert "| train | target |" in paths_of(cfg).summary_md.read_text()


@pytest.mark.slow
def test_rerun_skips_everything_when_nothing_changed(tiny_run, tmp_path):
    cfg = copy_run(tiny_run[0], tmp_path)
    results = run_all(cfg)
    assert all(r["done"] == 0 for r in results.values()), results


@pytest.mark.slow
def test_changed_config_redoes_that_stage_and_everything_downstream(tiny_run, tmp_path):
    cfg = copy_run(tiny_run[0], tmp_path)
    p = paths_of(cfg)
    before = torch.load(p.shape_sirens(load_objects(p.objects)[0].id), weights_only=False)["predicted"]
    cfg.mapper.steps = cfg.mapper.steps + 5
    r70 = run_stage("70_train_mapper", cfg)
    assert r70["done"] == 4
    r80 = run_stage("80_train_shape_sirens", cfg)
    assert r80["done"] == 4 and r80["skipped"] == 0  # upstream changed: detected, not reused
    after = torch.load(p.shape_sirens(load_objects(p.objects)[0].id), weights_only=False)["predicted"]
    assert not torch.equal(before, after)
    assert run_stage("40_train_image_sirens", cfg)["done"] == 0  # upstream of the change: untouched


@pytest.mark.slow
def test_two_runs_give_the_same_numbers(tiny_run, tmp_path):
    cfg, _ = tiny_run
    other = make_cfg("preset=tiny", f"data_dir={tmp_path}", THREADS)
    run_all(other, until="60_train_weight_ae")
    a, b = paths_of(cfg), paths_of(other)
    o = load_objects(a.objects)[0].id
    assert torch.equal(
        torch.load(a.hypernet(o), weights_only=False)["state"]["heads.heads.0.2.bias"],
        torch.load(b.hypernet(o), weights_only=False)["state"]["heads.heads.0.2.bias"],
    )
    assert load_json(a.ae_diagnostics) == load_json(b.ae_diagnostics)


def test_a_stage_run_before_its_upstream_names_the_stage_to_run(tiny_cfg):
    with pytest.raises(MissingUpstream, match="03_render_views"):
        run_stage("40_train_image_sirens", tiny_cfg())
    with pytest.raises(MissingUpstream, match=r"python 40_train_image_sirens\.py"):
        run_stage("50_train_hypernets", tiny_cfg())


def test_wrong_config_key_or_value_fails_at_composition():
    with pytest.raises(ConfigCompositionException):
        make_cfg("preset=tiny", "image_siren.hiden=3")
    with pytest.raises(ConfigCompositionException):
        make_cfg("preset=tiny", "mapper.route=sideways")
    with pytest.raises(ConfigCompositionException):
        make_cfg("preset=tiny", "shape_siren.steps=many")


@pytest.mark.slow
def test_broken_mesh_is_recorded_as_failed_and_the_others_go_on(tiny_cfg, tmp_path):
    folder = tmp_path / "meshes"
    folder.mkdir()
    trimesh.creation.icosphere(subdivisions=2).export(folder / "ball.ply")
    trimesh.creation.torus(0.6, 0.2).export(folder / "ring.obj")
    trimesh.creation.box().export(folder / "cube.stl")
    (folder / "broken.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 nan\n")
    cfg = tiny_cfg("data=local", f"data.local_dir={folder}", "data.num_objects=10")
    results = run_all(cfg, until="03_render_views")
    assert results["01_download"]["failed"] == 1 and "broken" in results["01_download"]["failures"]
    assert "broken.off" in results["01_download"]["failures"]["broken"]
    assert results["03_render_views"]["done"] == 3
    objects = {o.id: o for o in load_objects(paths_of(cfg).objects)}
    assert objects["broken"].status == "failed" and objects["ring"].fetched


@pytest.mark.slow
def test_nan_in_training_fails_that_object_only(tiny_run, tmp_path):
    cfg = copy_run(tiny_run[0], tmp_path, until="40_image_sirens")
    p = paths_of(cfg)
    victim = next(o.id for o in load_objects(p.objects) if o.split == Subset.test)  # anchors use train only
    ckpt = torch.load(p.image_sirens(victim), weights_only=False)
    ckpt["flat"][:] = float("nan")
    torch.save(ckpt, p.image_sirens(victim))
    m = Manifest(p.manifest("40_image_sirens"), p.root)  # as if 40 had remade it: 50 sees a changed upstream
    entry = m.get(victim)
    m.done(victim, "remade", [p.image_sirens(victim)], entry["parts"])
    r = run_stage("50_train_hypernets", cfg)
    assert r["failed"] == 1 and "not finite" in r["failures"][victim]
    assert r["done"] == 3


@pytest.mark.slow
def test_numbered_script_runs_as_a_subprocess(tmp_path):
    env = dict(os.environ, PYOPENGL_PLATFORM="egl")
    out = subprocess.run(
        [sys.executable, "01_download.py", "preset=tiny", f"data_dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert len(json.loads((tmp_path / "tiny" / "01_download" / "objects.json").read_text())) == 4
    assert (tmp_path / "tiny" / "01_download" / "log.txt").exists()
    out = subprocess.run(
        [sys.executable, "40_train_image_sirens.py", "preset=tiny", f"data_dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 2 and "03_render_views" in out.stderr
    out = subprocess.run(
        [sys.executable, "01_download.py", "preset=tiny", "data.num_objcts=3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode != 0 and "num_objcts" in out.stderr


@pytest.mark.slow
def test_a_killed_stage_leaves_no_half_files_and_resumes(tiny_cfg, monkeypatch):
    from hypershape.runtime import atomic_write
    from hypershape.stages import watertight

    cfg = tiny_cfg()
    run_stage("01_download", cfg)
    real, calls = watertight.make_object, []

    def dies_on_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C, or the job was killed
        return real(*a, **k)

    monkeypatch.setattr(watertight, "make_object", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        run_stage("02_watertight", cfg)
    p = paths_of(cfg)
    assert not list(p.stage("02_watertight").rglob(".*.*"))  # no temporary files left behind
    monkeypatch.setattr(watertight, "make_object", real)
    r = run_stage("02_watertight", cfg)
    assert r["skipped"] == 2 and r["done"] == 2

    target = p.root / "half.json"
    with pytest.raises(RuntimeError):
        atomic_write(target, lambda f: (f.write_text("{half"), (_ for _ in ()).throw(RuntimeError("killed"))))
    assert not target.exists() and not list(p.root.glob(".half*"))
