"""One bad object never stops or moves the others: anchors leave out what failed upstream, a failed object
leaves no file behind, splits and targets depend on the object alone, local meshes are keyed by content."""

import shutil

import numpy as np
import pytest
import torch
import trimesh
from conftest import copy_run, make_cfg

from hypershape.objects import RunObject, Subset, load_objects
from hypershape.paths import paths_of
from hypershape.pipeline import run_all, run_stage
from hypershape.runtime import Manifest

pytestmark = pytest.mark.slow


def _write_meshes(folder, broken: str | None = None):
    """Six small meshes; the one named `broken` (if any) gets a NaN vertex, so it fails to load."""
    folder.mkdir(parents=True, exist_ok=True)
    meshes = {
        "ball.ply": trimesh.creation.icosphere(subdivisions=2),
        "ring.obj": trimesh.creation.torus(0.6, 0.2),
        "cube.stl": trimesh.creation.box(),
        "can.ply": trimesh.creation.cylinder(0.5, 1.0),
        "pill.obj": trimesh.creation.capsule(1.0, 0.3),
        "cone.stl": trimesh.creation.cone(0.5, 1.0),
    }
    for name, mesh in meshes.items():
        if name == broken:
            (folder / name).with_suffix(".off").write_text("OFF\n3 1 0\n0 0 0\n1 0 nan\n0 1 0\n3 0 1 2\n")
        else:
            mesh.export(folder / name)
    return folder


def test_anchors_and_autoencoder_leave_out_a_training_object_that_failed_upstream(tiny_run, tmp_path):
    cfg = copy_run(tiny_run[0], tmp_path, until="40_image_sirens")
    p = paths_of(cfg)
    anchor_before = Manifest(p.manifest("40_image_sirens"), p.root).get("anchor", shared=True)
    objects = load_objects(p.objects)
    victim = next(o for o in objects if o.split == Subset.train)
    # its raw mesh becomes unreadable and 02 is told to redo it: 02 fails for it, its old outputs stay on disk
    (p.root / victim.raw).write_bytes(b"ply\nformat nonsense\n")
    m = Manifest(p.manifest("02_watertight"), p.root)
    m.failed(victim.id, "", "as if never made")
    assert run_stage("02_watertight", cfg)["failed"] == 1

    r03 = run_stage("03_render_views", cfg)
    assert "02_watertight failed" in r03["failures"][victim.id]
    assert not p.views(victim.id).exists()  # the views of the earlier run are gone: nothing stale to read

    r40 = run_stage("40_train_image_sirens", cfg)
    anchor = Manifest(p.manifest("40_image_sirens"), p.root).get("anchor", shared=True)
    assert list(anchor["left_out"]) == [victim.id] and "03_render_views failed" in anchor["left_out"][victim.id]
    assert anchor["key"] != anchor_before["key"]  # the key covers the objects used, and one is gone
    assert r40["done"] == 3 and not p.image_sirens(victim.id).exists()
    assert run_stage("40_train_image_sirens", cfg)["done"] == 0  # and it is stable: nothing redone

    r50 = run_stage("50_train_hypernets", cfg)
    assert r50["done"] == 3
    assert list(Manifest(p.manifest("50_hypernets"), p.root).get("anchor", shared=True)["left_out"]) == [victim.id]
    assert p.hypernet_anchor.exists()

    run_stage("60_train_weight_ae", cfg)
    ae = Manifest(p.manifest("60_weight_ae"), p.root).get("weight_ae", shared=True)
    assert list(ae["left_out"]) == [victim.id]
    assert victim.id not in torch.load(p.weight_ae, weights_only=False)["train_ids"]


def test_an_objects_split_does_not_move_when_another_fails_to_download(tmp_path):
    def splits(name, broken):
        folder = _write_meshes(tmp_path / name / "meshes", broken)
        cfg = make_cfg(
            "preset=tiny",
            f"data_dir={tmp_path / name}",
            "data=local",
            f"data.local_dir={folder}",
            "data.num_objects=10",
        )
        run_stage("01_download", cfg)
        return {o.id: (o.status, o.split) for o in load_objects(paths_of(cfg).objects)}

    whole, one_broken = splits("whole", None), splits("broken", "pill.obj")
    assert one_broken["pill"] == ("failed", None) and whole["pill"][0] == "done"
    assert {i: s for i, s in one_broken.items() if i != "pill"} == {i: s for i, s in whole.items() if i != "pill"}

    # the presets still hold out at least one object and train on at least two, at any training seed
    from hypershape.sources import procedural
    from hypershape.stages.download import split_of

    for preset, seeds in (("tiny", (0,)), ("default", (0, 1, 2))):
        for seed in seeds:
            cfg = make_cfg(f"preset={preset}", f"seed={seed}")
            d = cfg.data
            got = [
                split_of(RunObject(s.name, "procedural", s.family, genus=s.genus, family=s.family, index=s.index), cfg)
                for s in procedural.catalogue(d.num_objects, d.catalogue_seed, list(d.families))
            ]
            assert got.count(Subset.test) >= 1 and got.count(Subset.train) >= 2, (preset, seed, got)


def test_blank_views_leave_no_views_file(tiny_run, tmp_path, monkeypatch):
    from hypershape.stages import render_views as stage03

    cfg = copy_run(tiny_run[0], tmp_path, until="03_render_views")
    p = paths_of(cfg)
    ids = [o.id for o in load_objects(p.objects)]
    victim = trimesh.load(p.solid(ids[0]), force="mesh", process=False)
    real = stage03.render_like

    def blank_for_victim(mesh, *args, **kwargs):
        v = real(mesh, *args, **kwargs)
        if np.array_equal(mesh.vertices, victim.vertices):
            v["rgba"][...] = 0
        return v

    monkeypatch.setattr(stage03, "render_like", blank_for_victim)
    cfg.render.yfov_deg += 1.0  # every object is redone; the victim's earlier views exist until then
    r = run_stage("03_render_views", cfg)
    assert r["done"] == 3 and "blank" in r["failures"][ids[0]]
    assert not p.views(ids[0]).exists()
    assert all(p.views(i).exists() for i in ids[1:])


def test_a_target_fitted_in_a_batch_equals_the_one_fitted_alone(tiny_run, tmp_path):
    batched = copy_run(tiny_run[0], tmp_path / "batched", until="02_watertight")
    assert batched.shape_siren.batch == 4
    alone = make_cfg("preset=tiny", f"data_dir={tmp_path / 'alone'}", "shape_siren.batch=1")
    a, b = paths_of(batched), paths_of(alone)
    for stage in ("01_download", "02_watertight"):
        shutil.copytree(a.stage(stage), b.stage(stage))
    run_stage("60_train_weight_ae", batched)
    run_stage("60_train_weight_ae", alone)
    ids = [o.id for o in load_objects(a.objects)]
    assert len(ids) == 4
    for i in ids:  # bitwise, not merely close
        assert torch.equal(
            torch.load(a.target(i), weights_only=False)["flat"], torch.load(b.target(i), weights_only=False)["flat"]
        ), i


def test_a_local_mesh_edited_in_place_is_redone(tiny_cfg, tmp_path):
    folder = tmp_path / "meshes"
    folder.mkdir()
    trimesh.creation.icosphere(subdivisions=2).export(folder / "ball.ply")
    trimesh.creation.torus(0.6, 0.2).export(folder / "ring.obj")
    trimesh.creation.box().export(folder / "cube.stl")
    cfg = tiny_cfg("data=local", f"data.local_dir={folder}")
    run_all(cfg, until="02_watertight")
    trimesh.creation.box(extents=(2.0, 0.5, 0.5)).export(folder / "cube.stl")  # same path, new content
    r01, r02 = run_stage("01_download", cfg), run_stage("02_watertight", cfg)
    assert (r01["done"], r01["skipped"]) == (1, 2) and (r02["done"], r02["skipped"]) == (1, 2)
    raw = trimesh.load(paths_of(cfg).raw_mesh("cube"), force="mesh")
    assert np.allclose(sorted(raw.extents), [0.5, 0.5, 2.0])
    assert run_stage("01_download", cfg)["done"] == 0  # unchanged content: nothing redone
