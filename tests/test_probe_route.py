"""Routes probe and hybrid on the tiny preset: they run end to end, probe reads each object off its own
hypernetwork alone, hybrid keeps whichever of its three candidates (latent, probe, retrieval) draws closer to
the hypernetwork's views, and the refinement that follows never leaves a field agreeing worse with the
object's own views."""

import pytest
import torch
from conftest import records

from hypershape import routes
from hypershape.experiments.common import variant
from hypershape.paths import paths_of
from hypershape.pipeline import run_all
from hypershape.runtime import load_json, load_torch
from hypershape.stages.shape_sirens import accepted


@pytest.fixture
def probe_run(route_runs):
    return route_runs["probe"]


@pytest.mark.slow
def test_probe_route_scores_every_object(probe_run):
    s = load_json(paths_of(probe_run).summary_json)
    assert s["route"] == "probe" and not s["failed"]
    ids = {o["id"] for o in load_json(paths_of(probe_run).objects)}
    for kind in ("predicted", "refined"):
        assert {r["id"] for r in s["rows"] if r["kind"] == kind} == ids


@pytest.mark.slow
def test_probe_prediction_reads_the_objects_own_hypernetwork_only(probe_run):
    """Fewer training objects for the readout change nothing the probe route predicts: it learns from none."""
    fewer = variant(probe_run, "fewer", **{"data.train_limit": 1})
    run_all(fewer)
    a, b = paths_of(probe_run), paths_of(fewer)
    assert load_torch(b.mapper)["train_ids"] != load_torch(a.mapper)["train_ids"]
    preds = [load_torch(a.shape_sirens(o["id"]))["predicted"] for o in load_json(a.objects)]
    assert not any(torch.equal(preds[0], q) for q in preds[1:])  # each read off its own hypernetwork
    for o in load_json(a.objects):
        torch.testing.assert_close(
            load_torch(b.shape_sirens(o["id"]))["predicted"],
            load_torch(a.shape_sirens(o["id"]))["predicted"],
            rtol=0,
            atol=0,
        )


@pytest.mark.slow
def test_refined_never_agrees_worse_with_the_views_than_predicted(probe_run):
    p = paths_of(probe_run)
    recs = records(probe_run, "80_shape_sirens")
    for i, r in recs.items():
        assert r["silhouette_iou_refined"] >= r["silhouette_iou_predicted"], i
        assert r["silhouette_iou_oracle_depth"] >= r["silhouette_iou_predicted"], i
        slack = probe_run.shape_siren.refine.depth_slack
        assert r["depth_error_oracle_depth"] <= r["depth_error_predicted"] + slack, i
        saved = load_torch(p.shape_sirens(i))
        for kind, kept in (("refined", "refine_accepted"), ("oracle_depth", "oracle_depth_accepted")):
            if not r[kept]:
                assert torch.equal(saved[kind], saved["predicted"]), i


@pytest.mark.slow
def test_without_the_check_refinement_is_kept_whatever_it_does(probe_run):
    """The check is what holds the property above: switched off, every refinement is kept."""
    cfg = variant(probe_run, "keep-all", **{"shape_siren.refine.accept_if_better": False})
    run_all(cfg)
    recs = records(cfg, "80_shape_sirens")
    assert all(r["refine_accepted"] and r["oracle_depth_accepted"] for r in recs.values())


@pytest.fixture
def hybrid_run(route_runs):
    return route_runs["hybrid"]


@pytest.mark.slow
def test_hybrid_keeps_the_candidate_that_draws_closer_to_the_views(hybrid_run):
    p = paths_of(hybrid_run)
    s = load_json(p.summary_json)
    assert s["route"] == "hybrid" and not s["failed"]
    assert load_torch(p.mapper)["route"] == "latent"  # it reads with latent's mapper and decoder
    predictor = routes.get("hybrid").predictor(hybrid_run, p, "cpu")
    train_ids = load_torch(p.mapper)["train_ids"]
    for i, r in records(hybrid_run, "80_shape_sirens").items():
        errors = {k: r[f"view_error_{k}"] for k in ("latent", "probe", "retrieval")}
        assert r["prediction"] == min(errors, key=errors.get), i
        # retrieval looks up the training set: a training object finds itself, a test object another
        assert r["retrieved"] in train_ids and (r["retrieved"] == i) == (i in train_ids), i
        # what was saved is that candidate, made again from the hypernetwork alone
        again = predictor.candidates[r["prediction"]](i)
        assert torch.equal(load_torch(p.shape_sirens(i))["predicted"].cpu(), again.cpu()), i
        # and its recorded view error is the one its shape draws (not a stand-in number)
        images = predictor.candidates["probe"].prober.images(i, hybrid_run.render.resolution)
        assert predictor.view_error(again, images) == pytest.approx(r[f"view_error_{r['prediction']}"], rel=1e-6), i


@pytest.mark.parametrize(
    "iou, depth, slack, kept",
    [
        ((0.80, 0.85), (0.010, 0.008), 0.001, True),  # both better
        ((0.80, 0.85), (0.010, 0.0105), 0.001, True),  # silhouettes better, depth within the slack
        ((0.80, 0.85), (0.010, 0.012), 0.001, False),  # silhouettes better, depth worse beyond it
        ((0.80, 0.79), (0.010, 0.005), 0.001, False),  # silhouettes worse
        ((0.80, 0.80), (0.010, 0.010), 0.001, False),  # nothing better
        ((0.80, 0.81), (0.010, 0.050), None, True),  # no depth maps read: silhouettes decide
    ],
)
def test_a_refinement_is_kept_only_when_the_views_agree_better(iou, depth, slack, kept):
    before = dict(silhouette_iou=iou[0], depth_error=depth[0])
    after = dict(silhouette_iou=iou[1], depth_error=depth[1])
    assert accepted(before, after, slack) is kept
