"""70's function-space term (mapper.function_weight) on the tiny preset: it lowers the SDF error the predicted
shape-SIRENs make at the training objects' own samples, the more the larger its weight, for routes latent and
direct; what it records is what the saved mapper draws; and it is part of the mapper's key, with the 02
records of the training objects it reads."""

import pytest
import torch
from conftest import copy_run

from hypershape import routes
from hypershape.experiments.common import variant
from hypershape.paths import paths_of
from hypershape.pipeline import run_stage
from hypershape.readout.learned import function_samples
from hypershape.runtime import Manifest, load_json, load_torch
from hypershape.stages.common import load_samples, shape_spec
from hypershape.training import sdf_l1

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(made_tiny_run, tmp_path_factory):
    """The shared tiny run's stages up to 60, copied: every mapper below is trained in a run branched from it."""
    return copy_run(made_tiny_run[0], tmp_path_factory.mktemp("function"), until="60_weight_ae")


def mapper_record(cfg) -> dict:
    p = paths_of(cfg)
    return Manifest(p.manifest("70_mapper"), p.root).get("mapper", shared=True)


def sdf_errors(cfg) -> dict[str, float]:
    """{training object: mean |f - sdf| of the shape-SIREN the saved mapper predicts, at all its 02 samples}."""
    p = paths_of(cfg)
    predict, spec = routes.get(cfg.mapper.route).predictor(cfg, p, "cpu"), shape_spec(cfg)
    out = {}
    for i in load_torch(p.mapper)["train_ids"]:
        x, y = load_samples(p, i)
        out[i] = float(sdf_l1(spec, predict(i)[None], x[None], y[None]))
    return out


@pytest.mark.parametrize("route", ["latent", "direct"])
def test_the_function_term_lowers_the_sdf_error_at_the_training_samples(base, route):
    means = {}
    for w in (0, 1, 100):
        cfg = variant(base, f"{route}-w{w}", **{"mapper.route": route, "mapper.function_weight": w})
        assert run_stage("70_train_mapper", cfg)["failed"] == 0
        errors = sdf_errors(cfg)
        means[w] = sum(errors.values()) / len(errors)
        assert ("sdf_l1_last" in mapper_record(cfg)) == (w > 0)
    # same seeds, same data: only the term differs, and a larger weight pulls the fields closer
    assert means[0] > means[1] > means[100], means


@pytest.mark.parametrize("route", ["latent", "direct"])
def test_the_recorded_function_term_is_what_the_saved_mapper_draws(base, route):
    cfg = variant(base, f"{route}-drawn", **{"mapper.route": route, "mapper.function_weight": 1})
    run_stage("70_train_mapper", cfg)
    p = paths_of(cfg)
    ids = load_torch(p.mapper)["train_ids"]
    points, sdf = function_samples(cfg, p, ids, "cpu")
    assert points.shape == (len(ids), cfg.mapper.function_points, 3) and sdf.shape == points.shape[:2]
    again, _ = function_samples(cfg, p, ids, "cpu")
    assert torch.equal(points, again)  # drawn once, from the seed: the same subset every time
    for k, i in enumerate(ids):  # a subset of the object's own samples, without repeats
        x, _ = load_samples(p, i)
        assert len(torch.unique(points[k], dim=0)) == len(points[k])
        assert (points[k][:, None] == x[None]).all(-1).any(1).all()
    # the term trains through the same weights inference reads: the predictor (decoder, anchor) agrees
    predict = routes.get(route).predictor(cfg, p, "cpu")
    drawn = sdf_l1(shape_spec(cfg), torch.stack([predict(i) for i in ids]), points, sdf).mean()
    assert mapper_record(cfg)["sdf_l1_last"] == pytest.approx(float(drawn), rel=1e-4)


def test_the_function_term_is_part_of_the_mapper_key(base):
    cfg = variant(base, "key")
    n = len(load_json(paths_of(base).objects))
    assert run_stage("70_train_mapper", cfg)["done"] == n
    plain = mapper_record(cfg)
    assert run_stage("70_train_mapper", cfg)["done"] == 0  # same config: nothing redone
    assert mapper_record(cfg)["key"] == plain["key"]

    on = variant(cfg, **{"mapper.function_weight": 1})  # same run, the term switched on
    assert run_stage("70_train_mapper", on)["done"] == n
    weighted = mapper_record(on)
    assert weighted["key"] != plain["key"]
    assert weighted["parts"]["inputs"] != plain["parts"]["inputs"]  # it reads the 02 samples now
    assert run_stage("70_train_mapper", on)["done"] == 0
    assert mapper_record(on)["key"] == weighted["key"]
    assert run_stage("70_train_mapper", variant(on, **{"mapper.function_weight": 2}))["done"] == n

    # a training object's 02 record changes (its samples remade; 60 not rerun yet): the term's mapper is
    # stale, the weight-only mapper, which never reads the samples, is not
    p = paths_of(cfg)
    m02 = Manifest(p.manifest("02_watertight"), p.root)
    train_id = load_torch(p.mapper)["train_ids"][0]
    m02.done(train_id, "edited", (), m02.get(train_id)["parts"])
    assert run_stage("70_train_mapper", on)["done"] == n
    assert run_stage("70_train_mapper", on)["done"] == 0
    assert run_stage("70_train_mapper", cfg)["done"] == n  # back to weight 0: remade once, from its config
    plain_after = mapper_record(cfg)
    m02.done(train_id, "edited again", (), m02.get(train_id)["parts"])
    assert run_stage("70_train_mapper", cfg)["done"] == 0
    assert mapper_record(cfg)["key"] == plain_after["key"] == plain["key"]
