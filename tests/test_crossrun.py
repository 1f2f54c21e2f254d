"""readout_from: a run whose objects (a folder of meshes) are read with another run's learned, shared parts,
which it links unchanged and never trains; every object of it is held out."""

from pathlib import Path

import pytest
import torch
import trimesh
from conftest import THREADS, copy_run, make_cfg, records
from omegaconf import OmegaConf

from hypershape.errors import UserError
from hypershape.objects import Subset, load_objects
from hypershape.paths import paths_of, readout_paths
from hypershape.pipeline import run_all, run_stage
from hypershape.runtime import load_json, load_torch
from hypershape.settings import check_readout_from
from hypershape.status import run_status

# what each stage takes from the training run (shared files, relative to a run's root)
TAKEN = ("40_image_sirens/shared/anchor.pt", "50_hypernets/shared/anchor.pt", "60_weight_ae/shared/anchor.pt")


def mesh_folder(folder: Path) -> Path:
    """Two meshes of the user's own, neither of the catalogue: a flat box and a thick ring."""
    folder.mkdir()
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(folder / "box.ply")
    trimesh.creation.torus(0.6, 0.25).export(folder / "ring.ply")
    return folder


def reading(train, meshes: Path, route: str = "latent"):
    """The config of run `mine`, beside run `train`, reading the meshes with that run's readout."""
    return make_cfg(
        "preset=tiny",
        f"data_dir={train.data_dir}",
        "data=local",
        f"data.local_dir={meshes}",
        "name=mine",
        f"readout_from={train.name}",
        f"mapper={route}",
        "shape_siren.refine.oracle_depth=false",  # fewer fields to refine and score: none is asserted on
        "curves.keep=false",
        THREADS,
    )


def equal(a, b) -> bool:
    """Tensors, or dicts of them, equal key for key."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return torch.equal(a, b)


def done(results: dict) -> dict:
    return {script: r["done"] for script, r in results.items()}


@pytest.mark.slow
def test_a_run_reads_its_meshes_with_another_runs_readout(tiny_run, route_runs, tmp_path):
    train = copy_run(tiny_run[0], tmp_path / "data", until="70_mapper")
    mine = reading(train, mesh_folder(tmp_path / "meshes"))
    run_all(mine)
    p, t = paths_of(mine), paths_of(train)
    objects = load_objects(p.objects)
    assert sorted(o.id for o in objects) == ["box", "ring"]
    assert {o.split for o in objects} == {Subset.test}  # tiny's data.split=random would train some
    for part in TAKEN + ("60_weight_ae/shared/weight_ae.pt",):
        assert (p.root / part).read_bytes() == (t.root / part).read_bytes(), part
    ours, theirs = load_torch(p.mapper), load_torch(t.mapper)
    assert all(equal(ours[k], theirs[k]) for k in ("state", "out_norm", "hyper_scale"))  # the readout itself
    assert ours["train_ids"] == theirs["train_ids"]
    assert set(ours["features"]) == set(theirs["features"]) | {"box", "ring"}
    summary = load_json(p.summary_json)
    assert {r["split"] for r in summary["rows"]} == {"test"} and summary["summary"]
    assert all(s["split"] == "test" and s["n"] == 2 for s in summary["summary"])

    # the training run's mapper retrained: this run redoes 70-90, and nothing it took from 40-60
    train.mapper.steps += 5
    run_stage("70_train_mapper", train)
    assert run_status(mine)["70_mapper"]["shared"]["mapper"] == "stale (remade in run tiny)"
    assert run_status(mine)["60_weight_ae"]["shared"]["weight_ae"] == "done"
    again = done(run_all(mine))
    assert again == {s: (2 if s[:2] in ("70", "80", "90") else 0) for s in again}, again
    assert equal(load_torch(p.mapper)["state"], load_torch(t.mapper)["state"])

    # route decoder, from a branch of the training run: 01-60 are its too (same records), so only 70-90 run
    branch = copy_run(route_runs["decoder"], tmp_path / "data", until="70_mapper")  # 70 of every route
    reader = reading(branch, tmp_path / "meshes", "decoder")
    assert done(run_all(reader)) == {s: (2 if s[:2] in ("70", "80", "90") else 0) for s in again}
    assert paths_of(reader).mapper.read_bytes() == paths_of(branch).mapper.read_bytes()
    assert {r["split"] for r in load_json(paths_of(reader).summary_json)["rows"]} == {"test"}

    # route hybrid: its retrieval candidate is a training object of that run, read from that run's targets
    reader = reading(branch, tmp_path / "meshes", "hybrid")
    run_all(reader, until="80_train_shape_sirens")
    trained = load_torch(readout_paths(reader).mapper)["train_ids"]
    for record in records(reader, "80_shape_sirens").values():
        assert record["retrieved"] in trained and record["memory"] is False


def test_a_size_the_readout_depends_on_must_be_the_training_runs(tmp_path):
    train = make_cfg("preset=tiny", f"data_dir={tmp_path}", "name=train")
    made = paths_of(train).run_config("70_mapper")
    made.parent.mkdir(parents=True)
    made.write_text(OmegaConf.to_yaml(train))  # what 70 of the training run leaves: its resolved config
    fits = make_cfg("preset=tiny", f"data_dir={tmp_path}", "name=mine", "readout_from=train")
    check_readout_from(fits)
    wider = make_cfg("preset=tiny", f"data_dir={tmp_path}", "name=mine", "readout_from=train", "image_siren.hidden=32")
    with pytest.raises(UserError, match=r"image_siren.hidden must be that run's 16, this config says 32"):
        check_readout_from(wider)
    other_route = make_cfg("preset=tiny", f"data_dir={tmp_path}", "name=mine", "readout_from=train", "mapper=decoder")
    with pytest.raises(UserError, match=r"70_mapper/decoder holds no readout"):
        check_readout_from(other_route)
