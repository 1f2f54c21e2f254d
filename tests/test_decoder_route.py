"""Route decoder (routes/decoder.py) through stages 70, 80 and 90 of a tiny run: its checkpoints load with
weights_only, its rows reach 90's summary, and the readout tells the training objects apart: each one's
predicted field is closer to its own ground truth than the other training object's predicted field is."""

import csv

import pytest
import torch
from conftest import copy_run, make_cfg, records

from hypershape import routes
from hypershape.config import readout_seed
from hypershape.nets.shape_decoder import ShapeDecoder, load_decoder
from hypershape.objects import Subset
from hypershape.paths import SCRIPTS, paths_of
from hypershape.pipeline import run_all, run_stage
from hypershape.readout import generalisation
from hypershape.readout.autodecode import fit_latent
from hypershape.readout.probe import Prober
from hypershape.readout.probe_encoder import ProbeEncoder, emitted_sirens
from hypershape.routes.base import DecoderField
from hypershape.routes.probe import hull_samples
from hypershape.runtime import generator, load_json, rng
from hypershape.stage_specs import mapper_config, refine_config
from hypershape.stages.common import image_spec
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


def test_decoder_start_keys_80_under_route_decoder_and_not_70():
    for route, changes in (("decoder", True), ("latent", False), ("probe", False)):
        a = make_cfg("preset=tiny", f"mapper={route}")
        b = make_cfg("preset=tiny", f"mapper={route}", "decoder.start=hull")
        assert mapper_config(a) == mapper_config(b), route
        assert (refine_config(a) != refine_config(b)) == changes, route


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


def readout_latent(cfg, prober: Prober, obj: str) -> torch.Tensor:
    """The latent the run's trained readout (70's mapper.pt) reads off the object's drawn views."""
    ckpt = torch.load(paths_of(cfg).mapper, weights_only=True)
    c, e = ckpt["config"], ckpt["encoder"]
    encoder = ProbeEncoder(
        image_spec(cfg), e["views"], c["probe_resolution"], c["readout_hidden"], c["latent"], c["learn_probes"]
    )
    encoder.load_state_dict(e["state"])
    with torch.no_grad():
        return encoder.eval()(emitted_sirens(prober, obj)[None])[0]


@pytest.mark.slow
def test_80_starts_from_the_readouts_latent_or_from_the_latent_fitted_to_the_drawn_hull(route_runs, tmp_path):
    shared = route_runs["decoder"]  # made with decoder.start=readout
    cfg = copy_run(shared, tmp_path, until="70_mapper")
    cfg.decoder.start, cfg.eval_splits = "hull", ["test"]
    run_stage(SCRIPTS["80_shape_sirens"], cfg)  # 70 is not redone: decoder.start keys 80 alone
    p, seed = paths_of(cfg), readout_seed(cfg)
    decoder = load_decoder(torch.load(p.mapper, weights_only=True)["decoder"])
    prober = Prober(cfg, p, image_spec(cfg), "cpu")
    hull_records = records(cfg, "80_shape_sirens", "test")
    assert hull_records and {r["start"] for r in hull_records.values()} == {"hull"}
    for obj in hull_records:
        _, points, sdf = hull_samples(cfg, prober, obj, seed)
        fitted = fit_latent(decoder, points, sdf, cfg.decoder, generator(seed, "decoder-hull", obj))[0]
        hull_start = torch.load(p.shape_sirens(obj), weights_only=True)["predicted"]
        torch.testing.assert_close(hull_start, fitted)
        readout_start = torch.load(paths_of(shared).shape_sirens(obj), weights_only=True)
        assert readout_start["start"] == "readout"
        torch.testing.assert_close(readout_start["predicted"], readout_latent(shared, prober, obj))
        assert not torch.allclose(hull_start, readout_start["predicted"], atol=1e-3)


def test_the_decoder_fields_pull_is_finite_and_alike_with_one_training_object():
    """data.train_limit=1 (the learning curve's smallest size): one latent has no spread, and a nan scale
    would make every refinement diverge at its first step."""
    decoder = ShapeDecoder(latent=4, hidden=8, layers=2, frequencies=1)
    one = DecoderField(decoder, torch.randn(1, 4)).scale(torch.zeros(4))
    assert torch.isfinite(one).all() and torch.equal(one, torch.full((4,), one[0].item()))
    codes = torch.tensor([[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 0.0, 7.0]])
    assert torch.allclose(DecoderField(decoder, codes).scale(torch.zeros(4)), codes.std(0).clamp_min(1e-6))


@pytest.mark.slow
def test_the_benchmark_scores_every_test_object_by_every_latent_and_the_train_objects_through_the_readout(run):
    record = generalisation.run(run, train_objects=1, hull=True)
    rows = record["rows"]
    test = {r["id"] for r in rows if r["split"] == Subset.test}
    kinds = {**generalisation.KINDS, **generalisation.HULL_KINDS}
    assert test and {(i, k) for i in test for k in kinds} == {(r["id"], r["kind"]) for r in rows if r["id"] in test}
    assert [r["kind"] for r in rows if r["split"] == Subset.train] == ["readout"]
    assert record["errors"]["train"]["mean"] == pytest.approx(0.5)  # tiny trains on two objects
