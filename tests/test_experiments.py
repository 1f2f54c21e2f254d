"""Each experiment of issue 3 on the tiny preset: its table has every row and no NaN, and the report
gathers them. One tiny base run is shared, as a researcher's experiments share their base run."""
import math

import pytest

from hypershape.experiments import EXPERIMENTS, run_experiment
from hypershape.experiments.report import write_report
from hypershape.paths import paths_of
from hypershape.pipeline import run_all
from hypershape.runtime import load_json
from conftest import make_cfg

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    cfg = make_cfg("preset=tiny", f"data_dir={tmp_path_factory.mktemp('exp')}", "experiment.seeds=[0,1]")
    run_all(cfg)
    return cfg


def table(cfg, name):
    cfg = cfg.copy()
    cfg.experiment.name = name
    run_experiment(cfg)
    t = load_json(paths_of(cfg).experiment(name) / "table.json")
    for row in t["rows"]:
        for k, v in row.items():
            assert not (isinstance(v, float) and math.isnan(v)), (name, k, row)
            assert v != "n/a", (name, k, row)
    return t


def test_routes_has_both_routes_for_every_split_and_kind_with_spread_over_seeds(base):
    t = table(base, "routes")
    keys = {(r["split"], r["SIREN"], r["route"]) for r in t["rows"]}
    expected = {(s, "target", "—") for s in ("train", "test")} | \
               {(s, k, route) for s in ("train", "test") for k in ("predicted", "refined") for route in ("latent", "direct")}
    assert keys == expected
    assert all("±" in r["F@0.02"] for r in t["rows"])  # two seeds: mean ± std
    assert (paths_of(base).experiment("routes") / "routes.png").exists()


def test_heads_compares_every_emitter(base):
    t = table(base, "heads")
    variants = {r["variant"] for r in t["rows"]}
    assert len(variants) == 5 and any("monolithic" in v for v in variants)
    assert {r["split"] for r in t["rows"]} == {"train", "test"}
    assert all(o["weight_mse"] >= 0 for o in t["objects"])


def test_anchor_measures_concentration_and_interpolation(base):
    t = table(base, "anchor")
    shared, own = t["rows"]
    assert shared["targets"] == "shared anchor" and own["targets"] == "own random init"
    # warm-starting from one anchor is what concentrates raw weights (a real property, not a stub)
    assert shared["cosine raw"] > 0.9 > own["cosine raw"]


def test_interpolation_has_every_mode_and_strips(base):
    t = table(base, "interpolation")
    assert [r["mode"] for r in t["rows"]] == ["latent", "weights", "sdf"]
    assert len(t["pairs"]) == 3 * base.experiment.pairs
    assert len(list(paths_of(base).experiment("interpolation").glob("strip_*.png"))) == base.experiment.pairs
    sdf = t["rows"][2]
    assert sdf["valid share"] > 0  # blending two true SDFs gives closed meshes


def test_baseline_and_ood_and_report(base):
    b = table(base, "baseline")
    assert {r["SIREN"] for r in b["rows"] if r["split"] == "test"} == {"target", "retrieval", "predicted", "refined"}
    assert "retrieval" in b["verdict"]
    o = table(base, "ood")
    assert {r["split"] for r in o["rows"]} == {"train", "test (held-out genus)"}
    text = write_report(base)
    assert all(f"Experiment {i}" in text for i in range(1, 7))
    assert "Chamfer-L1 = ½" in text
    assert set(EXPERIMENTS) == {"routes", "heads", "anchor", "interpolation", "baseline", "ood"}
