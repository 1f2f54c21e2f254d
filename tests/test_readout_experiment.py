"""The readout experiment on the tiny preset: its plan, its rows, its retrievals and the oracle nearest
neighbour. Its own file so that a second test worker runs it beside the other experiments."""

import shutil

import numpy as np
import pytest
import torch
import trimesh
from conftest import copy_run, make_cfg, records
from omegaconf import OmegaConf

from hypershape.config import section
from hypershape.experiments import readout, run_experiment
from hypershape.experiments.baseline import oracle_rows
from hypershape.experiments.common import object_rows
from hypershape.geometry.metrics import sampling_floor
from hypershape.metrics import headline
from hypershape.paths import Paths, paths_of
from hypershape.readout.retrieval import oracle_nearest
from hypershape.runtime import load_json, load_torch, rng
from hypershape.stages.reconstruct import ground_truth

pytestmark = pytest.mark.slow


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


def test_readout_has_hybrid_and_decoder_on_train_and_every_route_and_retrieval_on_test(readout_run):
    cfg, t = readout_run
    seeds = {(r["split"], r["method"]): r["seeds"] for r in t["rows"]}
    kinds = ("predicted", "refined")  # decoder's: the readout alone, and with test-time fitting
    # later seeds score test objects only; decoder reads train objects through its readout (no memory)
    expected = {("train", f"{route} {k}"): 1 for route in readout.TRAIN_SCORED for k in kinds}
    expected |= {("test", f"{route} {k}"): 2 for route in (*readout.ROUTES, "latent, keep-all") for k in kinds}
    for split in ("train", "test"):
        expected |= {(split, f"retrieval ({s})"): 1 for s, _ in readout.SPACES} | {(split, readout.ORACLE): 1}
    assert seeds == expected
    decoder = readout.plan(cfg)[0][2]["decoder"]
    train = [r for r in object_rows(decoder) if r["split"] == "train" and r["kind"] in kinds]
    assert train and not any(r["memory"] for r in train)  # read, never its own target
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
    used = load_torch(Paths(cfg.data_dir, cfg.name, "hybrid").mapper)["train_ids"]  # what the readout learnt from
    assert all(r["neighbour"] in used and r["neighbour"] != r["id"] for r in t["retrieved"] if r["space"] == "oracle")
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
        (first, 0, "decoder", n, None, None, both, first),  # decoder on train too, at the first seed
        (first, 1, "hybrid", f"{n}-r1", n, 1, test, first),
        (first, 1, "probe", f"{n}-r1", n, 1, test, first),
        (first, 1, "latent", f"{n}-r1", n, 1, test, first),
        (first, 1, "decoder", f"{n}-r1", n, 1, test, first),
        ("ood", 0, "hybrid", f"{n}-ood", n, None, both, "ood"),
        ("ood", 0, "probe", f"{n}-ood", n, None, test, "ood"),
        ("ood", 0, "latent", f"{n}-ood", n, None, test, "ood"),
        ("ood", 0, "decoder", f"{n}-ood", n, None, both, "ood"),
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
