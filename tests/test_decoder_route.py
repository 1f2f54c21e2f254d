"""Route decoder (routes/decoder.py) through stages 70, 80 and 90 of a tiny run: its checkpoints load with
weights_only, its rows reach 90's summary, and the readout tells the training objects apart: each one's
predicted field is closer to its own ground truth than the other training object's predicted field is."""

import csv

import pytest
import torch
from conftest import make_cfg

from hypershape import routes
from hypershape.nets.shape_decoder import load_decoder
from hypershape.paths import paths_of
from hypershape.pipeline import run_all
from hypershape.runtime import load_json, rng
from hypershape.stage_specs import mapper_config
from hypershape.stages.reconstruct import ground_truth, score_field


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = make_cfg("preset=tiny", f"data_dir={tmp_path_factory.mktemp('decoder')}", "mapper=decoder")
    run_all(cfg)
    return cfg


def test_the_decoder_section_keys_70_under_route_decoder_alone():
    for route, changes in (("decoder", True), ("latent", False), ("probe", False)):
        a = mapper_config(make_cfg("preset=tiny", f"mapper={route}"))
        b = mapper_config(make_cfg("preset=tiny", f"mapper={route}", "decoder.steps=7"))
        assert (a != b) == changes, route


@pytest.mark.slow
def test_the_route_writes_weights_only_checkpoints_and_its_rows_reach_the_summary(run):
    p = paths_of(run)
    mapper = torch.load(p.mapper, weights_only=True)
    assert mapper["route"] == "decoder" and mapper["codes"].shape == (len(mapper["train_ids"]), run.decoder.latent)
    kinds = {(s["split"], s["kind"]): s["n"] for s in load_json(p.summary_json)["summary"]}
    assert all(kinds.get((split, k)) == 2 for split in ("train", "test") for k in ("predicted", "refined"))
    obj = mapper["train_ids"][0]
    saved = torch.load(p.shape_sirens(obj), weights_only=True)
    assert saved["predicted"].shape == (run.decoder.latent,)
    # an 80 file alone rebuilds the field 90 meshed: its decoder and its latent
    decoder = load_decoder(saved["decoder"])
    field = routes.get("decoder").field(run, p, "cpu")
    x = torch.rand(64, 3) * 2 - 1
    assert torch.equal(decoder(saved["refined"], x)[:, None], field.evaluate(saved["refined"], x))


@pytest.mark.slow
def test_a_training_objects_predicted_field_is_its_own_not_the_other_training_objects(run):
    p, rc = paths_of(run), run.reconstruct
    train = torch.load(p.mapper, weights_only=True)["train_ids"]
    assert len(train) == 2
    with open(p.metrics_csv) as f:
        own = {r["id"]: float(r["iou"]) for r in csv.DictReader(f) if r["kind"] == "predicted" and r["id"] in train}
    field = routes.get("decoder").field(run, p, "cpu")
    for obj, other in (train, train[::-1]):
        truth = ground_truth(p, obj, rc, rng(run.seed, "90", obj))
        predicted = torch.load(p.shape_sirens(other), weights_only=True)["predicted"]
        m, _ = score_field(field.numpy(predicted, "cpu"), truth, rc, rng(run.seed, "90", obj))
        assert own[obj] > m["iou"] + 0.05, (obj, own[obj], other, m["iou"])
