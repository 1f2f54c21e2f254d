"""Each experiment on the tiny preset: its table has every row and no NaN, and the report
gathers them. One tiny base run is shared, as a researcher's experiments share their base run."""

import itertools
import math
import re
import shutil

import numpy as np
import pytest
import torch
import trimesh
from conftest import copy_run, make_cfg, records
from omegaconf import OmegaConf

from hypershape.config import Route, section
from hypershape.experiments import EXPERIMENTS, heads, readout, run_experiment
from hypershape.experiments.baseline import oracle_rows
from hypershape.experiments.common import variant
from hypershape.experiments.report import write_report
from hypershape.geometry.metrics import sampling_floor
from hypershape.metrics import headline
from hypershape.paths import Paths, paths_of
from hypershape.pipeline import run_all
from hypershape.readout.retrieval import oracle_nearest
from hypershape.runtime import load_json, load_torch, rng
from hypershape.stages.common import image_spec
from hypershape.stages.reconstruct import ground_truth

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(made_route_runs):
    """A run branched from the shared run of every route: the experiments write into it."""
    cfg = variant(made_route_runs["latent"], "exp", **{"experiment.routes.seeds": [0, 1]})
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


def test_routes_has_every_route_for_every_split_and_kind_with_spread_over_seeds(base):
    t = table(base, "routes")
    keys = {(r["split"], r["SIREN"], r["route"]) for r in t["rows"]}
    expected = {(s, "target", "—") for s in ("train", "test")} | {
        (s, k, route)
        for s in ("train", "test")
        for k in ("predicted", "refined", "oracle depth")
        for route in (r.value for r in Route)
    }
    assert keys == expected
    assert all("±" in r["F@0.02"] for r in t["rows"])  # two seeds: mean ± std
    assert (paths_of(base).experiment("routes") / "routes.png").exists()


def head_params(in_dim: int, hidden: int, sizes: list[int]) -> int:
    """Parameters of mlp(in_dim, hidden, sum(sizes), depth 2), by hand: two hidden layers and the output."""
    return (in_dim + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * sum(sizes)


def test_heads_compares_every_emitter(base):
    t = table(base, "heads")
    variants = {r["variant"] for r in t["rows"]}
    assert len(variants) == 5 and any("monolithic" in v for v in variants)
    assert {r["split"] for r in t["rows"]} == {"train", "test"}
    configs = {label: c for label, _, _, c, _ in heads.variants(base)}
    # the two hypernetworks are the spec's: k heads of one tensor each, or one head of all k tensors
    sizes, h = image_spec(base).sizes, base.hypernet.hidden
    obj = t["objects"][0]["id"]
    count = {}
    for label in ("hypernet per-layer / latent", "hypernet monolithic / latent"):
        state = load_torch(paths_of(configs[label]).hypernet(obj))["state"]
        count[label] = sum(v.numel() for k, v in state.items() if k != "base")
    assert count["hypernet per-layer / latent"] == sum(head_params(3, h, [n]) for n in sizes)
    assert count["hypernet monolithic / latent"] == head_params(3, h, sizes)
    assert count["hypernet per-layer / latent"] - count["hypernet monolithic / latent"] == (len(sizes) - 1) * (
        h * h + 5 * h
    )
    # each object's weight MSE is its predicted vs target shape-SIREN, and the table's is their median
    for d in t["objects"]:
        p = paths_of(configs[d["variant"]])
        pred, target = load_torch(p.shape_sirens(d["id"]))["predicted"], load_torch(p.target(d["id"]))["flat"]
        assert d["weight_mse"] == pytest.approx(float(((pred - target) ** 2).mean()), rel=1e-6)
    for r in t["rows"]:
        sel = [d["weight_mse"] for d in t["objects"] if d["variant"] == r["variant"] and d["split"] == r["split"]]
        assert r["n"] == len(sel) and r["shape weight MSE"] == pytest.approx(float(np.median(sel)))
    # variants that share the per-layer hypernetwork report its numbers; the monolithic one has its own
    hyper = {(r["variant"], r["split"]): r["hypernet weight MSE"] for r in t["rows"]}
    for split in ("train", "test"):
        same = {hyper[(v, split)] for v in variants if not v.startswith("hypernet monolithic")}
        assert len(same) == 1 and hyper[("hypernet monolithic / latent", split)] not in same


def mean_cosine(rows: np.ndarray) -> float:
    u = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return float(np.mean([u[i] @ u[j] for i, j in itertools.combinations(range(len(u)), 2)]))


def test_anchor_measures_concentration_and_interpolation(base):
    t = table(base, "anchor")
    shared, own = t["rows"]
    assert shared["targets"] == "shared anchor" and own["targets"] == "own random init"
    # the cosines are those of the target shape-SIRENs on disk, raw and less the anchor
    objects = [o["id"] for o in load_json(paths_of(base).objects) if o["status"] == "done"]
    for row, suffix in ((shared, None), (own, "own-init")):
        p = paths_of(base) if suffix is None else Paths(base.data_dir, f"{base.name}-{suffix}")
        w = np.stack([load_torch(p.target(i))["flat"].double().numpy() for i in objects])
        anchor = load_torch(p.shape_anchor)["flat"].double().numpy()
        assert row["cosine raw"] == pytest.approx(mean_cosine(w), abs=1e-5)
        assert row["cosine residual"] == pytest.approx(mean_cosine(w - anchor), abs=1e-5)
    # warm-starting from one anchor is what concentrates raw weights; less the anchor, they spread out
    assert shared["cosine raw"] > 0.9 > own["cosine raw"]
    assert shared["cosine residual"] < shared["cosine raw"]


def test_interpolation_has_every_mode_and_strips(base):
    t = table(base, "interpolation")
    assert [r["mode"] for r in t["rows"]] == ["latent", "weights", "sdf"]
    pairs = base.experiment.interpolation.pairs
    assert len(t["pairs"]) == 3 * pairs
    assert len(list(paths_of(base).experiment("interpolation").glob("strip_*.png"))) == pairs
    sdf = t["rows"][2]
    assert sdf["valid share"] > 0  # blending two true SDFs gives closed meshes


def test_baseline_and_ood_and_report(base):
    b = table(base, "baseline")
    assert {r["SIREN"] for r in b["rows"] if r["split"] == "test"} == {"target", "retrieval", "predicted", "refined"}
    # each object's neighbour is another training object, the nearest in the mapper's sketch space
    ckpt = load_torch(paths_of(base).mapper)
    feats, train = ckpt["features"], ckpt["train_ids"]
    for r in b["retrieved"]:
        others = [i for i in train if i != r["id"]]
        assert r["neighbour"] == min(others, key=lambda i: float((feats[i] - feats[r["id"]]).norm()))
    # the verdict's words agree with the numbers of its own table
    test = {r["SIREN"]: r for r in b["rows"] if r["split"] == "test"}
    pred, retr = test["predicted"], test["retrieval"]
    f, c = pred["F@0.02"] > retr["F@0.02"], pred["CD-L1"] < retr["CD-L1"]
    quoted = [float(x) for x in re.findall(r"(?<![@\w.])\d+\.\d+", b["verdict"])]
    assert quoted == pytest.approx([pred["F@0.02"], retr["F@0.02"], pred["CD-L1"], retr["CD-L1"]], abs=1e-3)
    expected = (
        "beat retrieval ("
        if f and c
        else "do not beat"
        if not (f or c)
        else f"beat retrieval on {'F@0.02' if f else 'Chamfer-L1'} only"
    )
    assert expected in b["verdict"]
    o = table(base, "ood")
    assert {r["split"] for r in o["rows"]} == {"train", "test (held-out genus)"}
    text = write_report(base)
    # the report gathers every experiment's own table (or says how to run it) and the baseline's verdict
    for name in EXPERIMENTS:
        md = paths_of(base).experiment(name) / "table.md"
        assert (md.read_text() if md.exists() else f"`python experiment.py experiment={name} ") in text, name
    assert b["verdict"] in text


@pytest.fixture(scope="module")
def readout_run(made_route_runs):
    """The readout experiment in a run branched from the shared run of every route (seed 0's runs are its)."""
    routes = made_route_runs["latent"]
    cfg = make_cfg(
        "preset=tiny",
        f"data_dir={routes.data_dir}",
        f"name={routes.name}-readout",
        f"branch_from={routes.name}",
        "experiment=readout",
        "experiment.readout.readout_seeds=[0,1]",
        "experiment.readout.ood=false",  # the ood repeat costs a second run of 40/50; its plan is tested below
    )
    # one cheap ingredient (80 on): every refinement of route latent kept
    cfg.experiment.readout.ingredients = {
        "keep-all": dict(route="latent", overrides={"shape_siren.refine.accept_if_better": False})
    }
    run_experiment(cfg)
    return cfg, load_json(paths_of(cfg).experiment("readout") / "table.json")


def test_readout_has_hybrid_on_train_and_every_route_and_retrieval_on_test(readout_run):
    cfg, t = readout_run
    seeds = {(r["split"], r["method"]): r["seeds"] for r in t["rows"]}
    kinds = ("predicted", "refined")
    expected = {("train", f"hybrid {k}"): 1 for k in kinds}  # later seeds score test objects only
    expected |= {("test", f"{route} {k}"): 2 for route in (*readout.ROUTES, "latent, keep-all") for k in kinds}
    for split in ("train", "test"):
        expected |= {(split, f"retrieval ({s})"): 1 for s, _ in readout.SPACES} | {(split, readout.ORACLE): 1}
    assert seeds == expected
    assert (paths_of(cfg).experiment("readout") / "test_objects.png").exists()


def test_readout_ingredient_reruns_its_own_seeds_route_run_with_the_overrides(readout_run):
    cfg, t = readout_run
    for _, seed, runs in readout.plan(cfg):
        route, ing = runs["latent"], runs["latent, keep-all"]
        assert ing.shape_siren.refine.accept_if_better is False and route.shape_siren.refine.accept_if_better
        recs = records(ing, "80_shape_sirens", "test")
        assert recs and all(r["refine_accepted"] for r in recs.values()), seed
        for i in recs:  # same seed's mapper: the same prediction, bitwise; only the refinement differs
            a, b = (load_torch(paths_of(c).shape_sirens(i))["predicted"] for c in (route, ing))
            assert torch.equal(a, b), (seed, i)


def test_readout_retrieval_looks_up_the_nearest_other_training_object_in_each_space(readout_run):
    cfg, t = readout_run
    for space, route in readout.SPACES:
        ckpt = load_torch(Paths(cfg.data_dir, cfg.name, route).mapper)
        feats, train = ckpt["features"], ckpt["train_ids"]
        rows = [r for r in t["retrieved"] if r["space"] == space]
        assert {r["id"] for r in rows} == set(feats)
        for r in rows:
            others = [i for i in train if i != r["id"]]
            assert r["neighbour"] == min(others, key=lambda i: float((feats[i] - feats[r["id"]]).norm()))


def test_the_oracle_nearest_neighbour_scores_at_least_every_retrievals_neighbour_on_every_object(readout_run):
    """The oracle searches the training objects' ground truths, so it scores at least the ground truth of
    the neighbour each retrieval chose (a retrieval answers with that neighbour's target, which on tiny can
    score above its ground truth by chance: the ceiling is over ground-truth shapes)."""
    cfg, t = readout_run
    p, rc = paths_of(cfg), cfg.reconstruct
    key = headline(rc.taus).key
    oracle = {r["id"]: r[key] for r in t["retrieved"] if r["space"] == "oracle"}
    assert set(oracle) == {r["id"] for r in t["retrieved"] if r["space"] == "sketch"}
    checked = 0
    for r in t["retrieved"]:
        if r["space"] == "oracle" or r["id"] not in oracle:
            continue
        i, nb = r["id"], r["neighbour"]
        truth = ground_truth(p, i, rc, rng(cfg.seed, "90", i))
        solid = {nb: trimesh.load(p.solid(nb), force="mesh", process=False)}
        _, m = oracle_nearest(truth, solid, rc, lambda j, i=i: rng(cfg.seed, "oracle", i, j))
        assert oracle[i] >= m[key], (i, r["space"], nb)
        checked += 1
    assert checked >= len(oracle) * len(readout.SPACES)


def test_the_oracle_finds_a_training_objects_copy_held_out(tiny_run, tmp_path):
    cfg = copy_run(tiny_run[0], tmp_path, until="02_watertight")
    cfg.reconstruct.n_points = 30_000  # tiny's few points score even identical surfaces far below F = 1
    p, rc = paths_of(cfg), cfg.reconstruct
    split_of = {o["id"]: o["split"] for o in load_json(p.objects)}
    held = min(i for i, s in split_of.items() if s == "test")
    copied = max(i for i, s in split_of.items() if s == "train")  # the last id: ties would go to the first
    key = headline(rc.taus).key
    before = {r["id"]: r for r in oracle_rows(cfg, split_of)}[held]
    for path_of in (p.solid, p.topology, p.surface):  # the held-out object becomes a copy of a training one
        shutil.copyfile(path_of(copied), path_of(held))
    after = {r["id"]: r for r in oracle_rows(cfg, split_of)}[held]
    identical = sampling_floor(rc, np.random.default_rng(0), trimesh.load(p.solid(copied), force="mesh"))[key]
    assert before[key] < identical - 0.1, before  # distinct families: no training object is the held-out one
    assert after["neighbour"] == copied and after[key] >= identical - 0.02 and after["iou"] == 1.0, after
    assert after["genus_match"]


def test_readout_verdict_quotes_its_own_numbers(readout_run):
    cfg, t = readout_run
    by_method: dict[tuple, list[float]] = {}
    for p in t["points"]:
        by_method.setdefault((p["split"], p["method"]), []).append(p["fscore_0.02"])
    mean = {k: np.mean(v) for k, v in by_method.items()}
    retr = max(mean[("test", f"retrieval ({s})")] for s, _ in readout.SPACES)
    assert f"hybrid predicted F@0.02 {mean[('test', 'hybrid predicted')]:.3f} vs retrieval {retr:.3f}" in t["verdict"]
    assert f"train: {mean[('train', 'hybrid predicted')]:.3f}" in t["verdict"]


def test_readout_plan_repeats_every_seed_on_the_ood_split():
    cfg = make_cfg(
        "preset=tiny", "experiment=readout", "experiment.readout.readout_seeds=[0,1]", "experiment.readout.ood=true"
    )
    cfg.experiment.readout.ingredients = {}  # tested below
    got = [
        (held, s, route, c.name, c.branch_from, c.readout_seed, list(c.eval_splits), section(c, "data")["split"])
        for held, s, runs in readout.plan(cfg)
        for route, c in runs.items()
    ]
    both, test = ["train", "test"], ["test"]
    n, first = cfg.name, section(cfg, "data")["split"]
    assert first != "ood"
    assert got == [
        (first, 0, "hybrid", n, None, None, both, first),
        (first, 0, "probe", n, None, None, test, first),
        (first, 0, "latent", n, None, None, test, first),
        (first, 0, "decoder", n, None, None, test, first),
        (first, 1, "hybrid", f"{n}-r1", n, 1, test, first),
        (first, 1, "probe", f"{n}-r1", n, 1, test, first),
        (first, 1, "latent", f"{n}-r1", n, 1, test, first),
        (first, 1, "decoder", f"{n}-r1", n, 1, test, first),
        ("ood", 0, "hybrid", f"{n}-ood", n, None, both, "ood"),
        ("ood", 0, "probe", f"{n}-ood", n, None, test, "ood"),
        ("ood", 0, "latent", f"{n}-ood", n, None, test, "ood"),
        ("ood", 0, "decoder", f"{n}-ood", n, None, test, "ood"),
        ("ood", 1, "hybrid", f"{n}-ood-r1", f"{n}-ood", 1, test, "ood"),
        ("ood", 1, "probe", f"{n}-ood-r1", f"{n}-ood", 1, test, "ood"),
        ("ood", 1, "latent", f"{n}-ood-r1", f"{n}-ood", 1, test, "ood"),
        ("ood", 1, "decoder", f"{n}-ood-r1", f"{n}-ood", 1, test, "ood"),
    ]


def test_readout_plan_branches_each_ingredient_from_its_route_run_of_every_seed_and_split():
    cfg = make_cfg(
        "preset=tiny", "experiment=readout", "experiment.readout.readout_seeds=[0,1]", "experiment.readout.ood=true"
    )
    ingredients = cfg.experiment.readout.ingredients
    assert ingredients, "readout.yaml names the ablation's ingredients"
    for held, _, runs in readout.plan(cfg):
        for name, ing in ingredients.items():
            route, c = runs[ing.route], runs[f"{ing.route}, {name}"]
            assert (c.name, c.branch_from, list(c.eval_splits)) == (f"{route.name}-{name}", route.name, ["test"])
            assert (c.readout_seed, section(c, "data")["split"]) == (route.readout_seed, held)
            for key, value in ing.overrides.items():
                assert OmegaConf.select(c, key) == value != OmegaConf.select(route, key), (name, key)
    bad = make_cfg("preset=tiny", "experiment=readout")
    bad.experiment.readout.ingredients = {"x": dict(route="nope", overrides={})}
    with pytest.raises(ValueError, match="route must be one of"):
        readout.plan(bad)
