"""What each row may read: "refined" reads the object's pictures alone (03's depth maps never), "oracle
depth" reads the depth maps too, and a training object a route answers with its own target is counted as
memory, from what the route recorded."""

import copy

import numpy as np
import pytest
import torch
from conftest import records

from hypershape import routes
from hypershape.config import readout_seed
from hypershape.paths import paths_of
from hypershape.readout.probe import Prober
from hypershape.readout.retrieval import RetrievalPredictor
from hypershape.routes.hybrid import HybridPredictor
from hypershape.runtime import generator, load_json, load_torch, numerics_of
from hypershape.stages.common import image_spec, load_views
from hypershape.stages.reconstruct import metric_columns, summarise, table
from hypershape.stages.shape_sirens import refine, refinements, view_rays


def first_object(cfg):
    """The run's first object: its id, its 03 views, the route's field and 80's saved prediction."""
    p = paths_of(cfg)
    obj = load_json(p.objects)[0]["id"]
    field = routes.get(cfg.mapper.route).field(cfg, p, "cpu")
    return obj, load_views(p.views(obj)), field, load_torch(p.shape_sirens(obj))["predicted"]


def refined_by_80(cfg, views: dict):
    """80's refinements of the first object's saved prediction from `views` (refinements, as 80 calls it)."""
    obj, _, field, pred = first_object(cfg)
    return refinements(cfg, field, pred, views, obj, numerics_of(cfg))


@pytest.mark.slow
def test_refined_is_what_80_saved_and_never_reads_the_depth_maps(tiny_run):
    cfg, _ = tiny_run
    obj, views, _, pred = first_object(cfg)
    fields, _, _ = refined_by_80(cfg, views)
    saved = load_torch(paths_of(cfg).shape_sirens(obj))
    for kind in ("refined", "oracle_depth"):  # the function below is the one 80 ran
        assert torch.equal(fields[kind], saved[kind].to(fields[kind].device)), kind

    # every refinement kept, so each field is what its fit made of what it read
    cfg = copy.deepcopy(cfg)
    cfg.shape_siren.refine.accept_if_better = False
    garbage = dict(views, depth=torch.rand(views["depth"].shape, generator=torch.Generator().manual_seed(1)) * 3)
    clean, clean_info, _ = refined_by_80(cfg, views)
    dirty, dirty_info, _ = refined_by_80(cfg, garbage)
    assert not torch.equal(clean["refined"], pred)  # the refinement moved the field
    assert torch.equal(clean["refined"], dirty["refined"])
    assert not torch.equal(clean["oracle_depth"], dirty["oracle_depth"])  # the oracle reads the depth maps

    def pictures_record(info):
        return {k: v for k, v in info.items() if "depth" not in k}

    assert pictures_record(clean_info) == pictures_record(dirty_info)
    cfg.shape_siren.refine.oracle_depth = False
    no_depth, _, _ = refined_by_80(cfg, {k: v for k, v in views.items() if k != "depth"})
    assert torch.equal(no_depth["refined"], clean["refined"]) and set(no_depth) == {"refined"}


@pytest.mark.slow
def test_the_oracle_depth_fit_differs_from_the_pictures_fit_by_its_depth_terms_alone(tiny_run):
    """With no weight on the depth terms both fits are the same fit: same rays, same draws."""
    cfg, _ = tiny_run
    obj, views, field, pred = first_object(cfg)
    r = copy.deepcopy(cfg.shape_siren.refine)
    r.depth_weight = 0.0

    def fit(rays):
        return refine(field, pred, rays, r, generator(readout_seed(cfg), "80", obj), numerics_of(cfg))[0]

    pictures = {k: v for k, v in views.items() if k != "depth"}
    torch.testing.assert_close(fit(view_rays(views)), fit(view_rays(pictures)), rtol=0, atol=0)


@pytest.fixture
def hybrid_run(route_runs):
    return route_runs["hybrid"]


@pytest.mark.slow
def test_a_training_object_answered_with_its_own_target_is_memory(hybrid_run):
    cfg, p = hybrid_run, paths_of(hybrid_run)
    train_ids = load_torch(p.mapper)["train_ids"]
    objects = load_json(p.objects)
    retrieval = dict(retrieval=RetrievalPredictor(p, "cpu"))  # hybrid with its retrieval candidate alone
    field = routes.get("hybrid").field(cfg, p, "cpu")
    hybrid = HybridPredictor(cfg, "cpu", retrieval, field, Prober(cfg, p, image_spec(cfg), "cpu"))
    for o in objects:
        flat, how = hybrid.predict(o["id"])
        assert how["memory"] == (o["id"] in train_ids), o["id"]
        if how["memory"]:
            assert torch.equal(flat.cpu(), load_torch(p.target(o["id"]))["flat"].cpu())
    assert {o["split"] for o in objects if o["id"] in train_ids} == {"train"}

    # the full route: memory only where retrieval won and found the object itself; 90 counts 80's records
    recs = records(cfg, "80_shape_sirens")
    for i, r in recs.items():
        assert r["memory"] == (r["prediction"] == "retrieval" and r["retrieved"] == i), i
        assert 0 < r["predict_seconds"] < r["seconds"], i  # the readout's part of the object's time
    summary = load_json(p.summary_json)["summary"]
    for s in summary:
        want = np.mean([recs[o["id"]]["memory"] for o in objects if o["split"] == s["split"]])
        assert s.get("memory") == (None if s["kind"] == "target" else want), s


def test_the_summary_counts_memory_per_split_for_the_routes_fields_only():
    columns = metric_columns((0.02,))

    def row(split, kind, memory=None):
        extra = {} if memory is None else dict(memory=memory)
        return dict(id="x", split=split, kind=kind, **extra, **{c: 0.5 for c in columns})

    rows = [row("train", "target"), row("test", "target")]
    rows += [row("train", k, m) for k in ("predicted", "refined", "oracle_depth") for m in (True, False, True, True)]
    rows += [row("test", k, False) for k in ("predicted", "refined")]
    summary = {(s["split"], s["kind"]): s for s in summarise(rows, columns)}
    assert summary[("train", "predicted")]["memory"] == summary[("train", "oracle_depth")]["memory"] == 0.75
    assert summary[("test", "refined")]["memory"] == 0.0 and ("test", "oracle_depth") not in summary
    assert "memory" not in summary[("train", "target")]
    lines = table(list(summary.values()), (0.02,), "tiny", "hybrid", 0).splitlines()
    header = [c.strip() for c in lines[2].split("|")]
    cells = {tuple(c.strip() for c in line.split("|")[1:3]): line.split("|") for line in lines[4:]}
    at = header.index("memory")
    assert cells[("train", "oracle depth")][at].strip() == "75%"
    assert cells[("test", "predicted")][at].strip() == "0%"
    assert cells[("train", "target")][at].strip() == "–"
