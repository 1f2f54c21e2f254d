"""The learning curve and the readout knobs it rests on: data.train_limit (a nested, seeded
subset of the train split for the autoencoder, the mapper and retrieval), readout_seed, eval_splits."""

import numpy as np
import pytest
import torch
import trimesh
from conftest import make_cfg

from hypershape.config import section
from hypershape.errors import UserError
from hypershape.experiments import run_experiment
from hypershape.experiments.baseline import ORACLE
from hypershape.experiments.common import mean_spread
from hypershape.experiments.learning_curve import (
    BASELINES,
    curve_of,
    fitting_sizes,
    pipeline_methods,
    plan,
    verdict_of,
)
from hypershape.experiments.readout import SPACES
from hypershape.metrics import headline
from hypershape.objects import RunObject, Subset, load_objects
from hypershape.paths import STAGE_DIRS, Paths, paths_of
from hypershape.pipeline import run_all
from hypershape.provenance import object_config, shared_config
from hypershape.readout.retrieval import oracle_nearest
from hypershape.runtime import load_json, load_torch, rng
from hypershape.stages.common import evaluated, readout_train
from hypershape.stages.reconstruct import ground_truth
from hypershape.status import run_status

# twelve ids (the names of an older catalogue: any strings do), three of them held out
CATALOGUE = [
    "sphere_keep100",
    "torus_maj035_min005",
    "double_torus_025_025_min008",
    "box_100_100_100",
    "mug_r030_h080_hd020_t004",
    "plate_holes_row2",
    "triple_torus_020_020_020_min007",
    "chair_low_open1",
    "cylinder_r050_h100",
    "ring_i030_o050_h010_g000",
    "table_w100_d060_h070_s0",
    "ellipsoid_100_100_050",
]
HELD_OUT = {"sphere_keep100", "box_100_100_100", "table_w100_d060_h070_s0"}
# seed_of(0, "train_order", id) ascending, worked out once by hand from the hashes (chair 0.53e9, torus 1.37e9,
# ring 1.60e9, double torus 1.84e9, triple torus 2.56e9, mug 2.69e9, cylinder 3.37e9, ellipsoid 3.50e9, plate 3.94e9)
TRAIN_ORDER = [
    "chair_low_open1",
    "torus_maj035_min005",
    "ring_i030_o050_h010_g000",
    "double_torus_025_025_min008",
    "triple_torus_020_020_020_min007",
    "mug_r030_h080_hd020_t004",
    "cylinder_r050_h100",
    "ellipsoid_100_100_050",
    "plate_holes_row2",
]


def objects(ids):
    return [RunObject(id=i, source="test", ref=i, split=Subset.test if i in HELD_OUT else Subset.train) for i in ids]


def test_train_subsets_are_nested_seeded_and_from_the_train_split():
    cfg = make_cfg("seed=0")
    for k in (1, 3, 5, 9, 20):
        cfg.data.train_limit = k
        assert readout_train(cfg, objects(CATALOGUE)) == TRAIN_ORDER[:k]  # first k, nested, never a test object
        # the order is the ids' own: neither the listing order nor an object missing elsewhere moves it
        assert readout_train(cfg, objects(CATALOGUE[::-1])) == TRAIN_ORDER[:k]
        without = [i for i in CATALOGUE if i != "mug_r030_h080_hd020_t004"]
        assert readout_train(cfg, objects(without)) == [i for i in TRAIN_ORDER if i in without][:k]
    cfg.data.train_limit = 0
    assert readout_train(cfg, objects(CATALOGUE)) == TRAIN_ORDER
    cfg.seed = 1  # another split seed, another order
    assert readout_train(cfg, objects(CATALOGUE)) != TRAIN_ORDER
    cfg.data.train_limit = -1
    with pytest.raises(ValueError, match="train_limit"):
        readout_train(cfg, objects(CATALOGUE))
    cfg.eval_splits = ["test"]
    assert [o.id for o in evaluated(cfg, objects(CATALOGUE))] == [i for i in CATALOGUE if i in HELD_OUT]
    cfg.eval_splits = ["held"]
    with pytest.raises(ValueError, match="eval_splits"):
        evaluated(cfg, objects(CATALOGUE))


def test_readout_knobs_enter_only_the_readouts_keys():
    base = make_cfg("seed=0")
    readout = make_cfg("seed=0", "data.train_limit=5", "readout_seed=3", "eval_splits=[test]")
    for stage in STAGE_DIRS[:6]:  # 01–60: every per-object output keeps its key
        assert object_config(readout, stage) == object_config(base, stage), stage
    assert shared_config(readout, "60_weight_ae", "anchor") == shared_config(base, "60_weight_ae", "anchor")
    assert object_config(readout, "90_reconstruct") == object_config(base, "90_reconstruct")  # same scoring draws
    for stage, artifact in (("60_weight_ae", "weight_ae"), ("60_weight_ae", "latents"), ("70_mapper", "mapper")):
        assert shared_config(readout, stage, artifact) != shared_config(base, stage, artifact), (stage, artifact)
    assert object_config(readout, "80_shape_sirens") != object_config(base, "80_shape_sirens")
    # readout_seed equal to seed is the same computation as None: the same keys
    same = make_cfg("seed=0", "readout_seed=0")
    for stage in STAGE_DIRS:
        assert object_config(same, stage) == object_config(base, stage), stage
    assert shared_config(same, "60_weight_ae", "weight_ae") == shared_config(base, "60_weight_ae", "weight_ae")


def test_plan_drops_sizes_above_the_train_split_and_branches_every_route_off_the_first():
    cfg = make_cfg(
        "preset=tiny",
        "experiment=learning_curve",
        "experiment.learning_curve.train_sizes=[40,10,20,400,80]",
        "experiment.learning_curve.readout_seeds=[0,1]",
        "experiment.learning_curve.ood=true",
    )
    routes = list(cfg.experiment.learning_curve.routes)
    assert routes == ["decoder", "latent", "hybrid"]  # the default: the first runs every stage
    assert fitting_sizes(cfg, 80) == ([10, 20, 40, 80], [400])
    n, held = cfg.name, section(cfg, "data")["split"]
    got = []
    for h, k, s, runs in plan(cfg, 80):
        assert list(runs) == routes
        for route, c in runs.items():
            assert c.mapper.route.value == route and list(c.eval_splits) == ["test"]
            assert (c.data.train_limit, c.readout_seed, section(c, "data")["split"]) == (k, s, h)
        names = {(c.name, c.branch_from) for c in runs.values()}  # one run: the routes are its folders
        assert len(names) == 1
        got.append((h, k, s, *names.pop()))
    first_ood = f"{n}-curve-ood-n80-r0"
    assert got == [
        *((held, k, 0, f"{n}-curve-{held}-n{k}-r0", n) for k in (10, 20, 40, 80)),
        (held, 80, 1, f"{n}-curve-{held}-n80-r1", n),
        ("ood", 80, 0, first_ood, n),
        ("ood", 80, 1, f"{n}-curve-ood-n80-r1", first_ood),
    ]
    # with fewer training objects the largest size that fits is the one the seeds repeat at
    assert [(k, s) for h, k, s, _ in plan(cfg, 30) if h == held] == [(10, 0), (20, 0), (20, 1)]
    with pytest.raises(UserError, match="above the 5 training objects"):
        plan(cfg, 5)


def test_verdict_reads_each_routes_curve_against_the_better_retrieval():
    fscore = headline([0.01, 0.02])
    ends = {
        "decoder predicted": (0.2, 0.4),
        "decoder refined": (0.5, 0.6),
        "latent predicted": (0.3, 0.25),
        "latent refined": (0.5, 0.55),
        "retrieval (sketch)": (0.3, 0.35),
        "retrieval (probe)": (0.2, 0.45),  # the better retrieval at the largest size, though not at the smallest
        ORACLE: (0.5, 0.7),
    }
    points = [
        dict(held_out="test", train_objects=k, method=m, n=3, **{fscore.key: v})
        for m, vs in ends.items()
        for k, v in zip((10, 20), vs)
    ]
    words = verdict_of(points, "test", fscore, ["decoder", "latent"])
    assert "It rises for 3 of 4 pipeline methods (3 of them at every step)" in words
    assert "the best, decoder refined (0.600), beats the better retrieval, retrieval (probe) (0.450)" in words
    assert "and 2 of 4 pipeline methods beat it" in words and "scores 0.700" in words
    # a route that scored no object at a size is read where it did; one that scored none is left out
    unscored = [p for p in points if p["method"] != "latent predicted"]
    unscored += [dict(held_out="test", train_objects=k, method="latent predicted", n=0) for k in (10, 20)]
    assert "It rises for 3 of 3 pipeline methods" in verdict_of(unscored, "test", fscore, ["decoder", "latent"])


# ---------------------------------------------------------------- the experiment on the tiny preset
# 4 objects at test_fraction 0.18 (split hashes: sphere 0.179, double torus 0.194, torus 0.71, box 0.93): the
# sphere alone is held out; train order (train_order hashes) double torus 1.11e9, box 2.03e9, torus 2.16e9
SUBSETS = {1: ["double_torus_0000"], 2: ["double_torus_0000", "box_0000"]}
TEST_IDS = {"sphere_0000"}
PER_OBJECT = ("02_watertight", "03_render_views", "40_image_sirens", "50_hypernets", "60_weight_ae")


def per_object_state(root: Paths) -> dict:
    """Key of every per-object record of 02–60 and (mtime, inode) of every file under their objects/ (paths
    relative to the run: a variant's are hard links to the base run's files while nobody rewrites them)."""
    state = {}
    for stage in PER_OBJECT:
        for rec in sorted((root.manifest(stage) / "objects").glob("*.json")):
            state[(stage, rec.stem)] = load_json(rec)["key"]
        for f in sorted(root.objects_dir(stage).rglob("*")):
            if f.is_file():
                st = f.stat()
                state[(stage, str(f.relative_to(root.root)))] = (st.st_mtime_ns, st.st_ino)
    return state


@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    cfg = make_cfg(
        "preset=tiny",
        f"data_dir={tmp_path_factory.mktemp('curve')}",
        "data.num_objects=4",
        "data.test_fraction=0.18",
        "experiment=learning_curve",
        f"experiment.learning_curve.routes=[{','.join(ROUTES)}]",  # the cheapest pair on tiny
        "experiment.learning_curve.train_sizes=[1,2,5]",  # 5: above the 3 training objects, dropped
        "experiment.learning_curve.readout_seeds=[0,1]",
        "experiment.learning_curve.ood=false",  # the ood repeat costs a second run of 40/50
    )
    run_all(cfg, until="60_train_weight_ae")
    before = per_object_state(paths_of(cfg))
    base_ae = load_json(paths_of(cfg).manifest("60_weight_ae") / "shared" / "weight_ae.json")["key"]
    run_experiment(cfg)
    table = load_json(paths_of(cfg).experiment("learning_curve") / "table.json")
    return cfg, table, before, base_ae


def run_paths(cfg, k: int, s: int, route: str = "latent") -> Paths:
    held = section(cfg, "data")["split"]  # variants are named after the base run's held-out split
    return Paths(cfg.data_dir, f"{cfg.name}-curve-{held}-n{k}-r{s}", route)


VARIANTS = [(1, 0), (2, 0), (2, 1)]  # (size, readout seed): the seeds at the largest size only
ROUTES = ("latent", "direct")  # the curve's routes: latent runs every stage, direct reuses its run from 70
PIPELINE = pipeline_methods(list(ROUTES))
METHODS = PIPELINE + list(BASELINES)


@pytest.mark.slow
def test_curve_readout_learns_from_nested_subsets_and_per_object_work_is_untouched(curve):
    cfg, _, before, base_ae = curve
    assert [o.id for o in load_objects(paths_of(cfg).objects) if o.split == Subset.test] == sorted(TEST_IDS)
    assert per_object_state(paths_of(cfg)) == before  # the base run's 02–60 records and files
    keys = {}
    for k, s in VARIANTS:
        p = run_paths(cfg, k, s)
        ae = load_json(p.manifest("60_weight_ae") / "shared" / "weight_ae.json")
        assert ae["train_ids"] == SUBSETS[k] and ae["key"] != base_ae  # the autoencoder was made anew
        assert load_torch(p.weight_ae)["train_ids"] == SUBSETS[k]
        for route in (*ROUTES, "probe"):  # probe: the retrieval space's 70, made although not on the curve
            if route != "probe" or s == 0:  # retrieval has no readout seed: made at the first only
                assert load_torch(run_paths(cfg, k, s, route).mapper)["train_ids"] == SUBSETS[k]
        # the variant's per-object outputs of 02–60 are the base run's own: same keys, same files untouched
        assert per_object_state(p) == before
        keys[(k, s)] = ae["key"]
    assert len(set(keys.values())) == 3  # every size and every readout seed its own autoencoder


@pytest.mark.slow
def test_readout_seed_changes_the_readout_alone(curve):
    cfg, *_ = curve
    a, b = run_paths(cfg, 2, 0), run_paths(cfg, 2, 1)
    for obj in SUBSETS[2] + sorted(TEST_IDS):
        assert torch.equal(load_torch(a.target(obj))["flat"], load_torch(b.target(obj))["flat"])
    sa, sb = load_torch(a.weight_ae)["state"], load_torch(b.weight_ae)["state"]
    assert any(not torch.equal(sa[n], sb[n]) for n in sa)
    ma, mb = load_torch(a.mapper), load_torch(b.mapper)
    assert all(torch.equal(ma["features"][i], mb["features"][i]) for i in ma["features"])  # same sketch
    assert any(not torch.equal(ma["state"][n], mb["state"][n]) for n in ma["state"])
    for obj in TEST_IDS:
        assert not torch.equal(load_torch(a.shape_sirens(obj))["refined"], load_torch(b.shape_sirens(obj))["refined"])


@pytest.mark.slow
def test_curve_scores_only_test_objects(curve):
    cfg, *_ = curve
    for k, s in VARIANTS:
        for route in ROUTES:
            p = run_paths(cfg, k, s, route)
            for stage in ("80_shape_sirens", "90_reconstruct"):
                made = {f.stem for f in (p.manifest(stage) / "objects").glob("*.json")}
                assert made == TEST_IDS, (k, s, route, stage)
            summary = load_json(p.summary_json)
            assert summary["eval_splits"] == ["test"] and summary["readout_seed"] == s
            assert {r["split"] for r in summary["summary"]} == {r["split"] for r in summary["rows"]} == {"test"}
            assert "Only the test split" in p.summary_md.read_text()
            # status counts for 80 and 90 only what they make: nothing of the train split is "missing"
            variant = make_cfg(
                "preset=tiny",
                f"data_dir={cfg.data_dir}",
                f"name={p.root.name}",
                f"mapper.route={route}",
                "eval_splits=[test]",
            )
            for stage in ("80_shape_sirens", "90_reconstruct"):
                state = run_status(variant)[stage]
                assert (state["total"], state["missing"]) == (len(TEST_IDS), 0), (k, s, route, stage, state)


@pytest.mark.slow
def test_curve_table_plot_and_verdict_agree_with_the_runs(curve):
    cfg, table, *_ = curve
    rows = table["rows"]
    assert [(r["train objects"], r["method"]) for r in rows] == [(k, m) for k in (1, 2) for m in METHODS]
    for r in rows:
        assert (
            r["held out"] == section(cfg, "data")["split"]
            and r["used"] == r["train objects"]
            and r["n"] == len(TEST_IDS)
        )
        assert r["seeds"] == (2 if r["train objects"] == 2 and r["method"] not in BASELINES else 1)
    png = paths_of(cfg).experiment("learning_curve") / "curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # every point is its variant's summary: medians recomputed from the per-object rows
    points = table["points"]
    for p in points:
        if p["method"] in BASELINES:
            continue
        route, kind = p["method"].split()
        summary = load_json(run_paths(cfg, p["train_objects"], p["seed"], route).summary_json)
        objs = [o for o in summary["rows"] if o["split"] == "test" and o["kind"] == kind]
        assert p["fscore_0.02"] == pytest.approx(np.median([o["fscore_0.02"] for o in objs]))
        assert p["chamfer_l1"] == pytest.approx(np.median([o["chamfer_l1"] for o in objs]))
        assert p["genus_match"] == pytest.approx(np.mean([o["genus_match"] for o in objs]))
    for r in rows:
        ps = [p for p in points if (p["train_objects"], p["method"]) == (r["train objects"], r["method"])]
        assert r["F@0.02"] == mean_spread([p["fscore_0.02"] for p in ps])
        assert r["CD-L1"] == mean_spread([p["chamfer_l1"] for p in ps])
    # each retrieval looks up only the train objects of its size, the nearest in its space (its route's 70)
    found = {(r["space"], r["train_objects"], r["id"]) for r in table["retrieved"]}
    assert found == {(space, k, i) for space, _ in SPACES for k in (1, 2) for i in TEST_IDS}
    for r in table["retrieved"]:
        feats = load_torch(run_paths(cfg, r["train_objects"], 0, dict(SPACES)[r["space"]]).mapper)["features"]
        sub = SUBSETS[r["train_objects"]]
        assert r["neighbour"] == min(sub, key=lambda i: float((feats[i] - feats[r["id"]]).norm()))
    # the verdict's words follow its numbers
    ends = {m: curve_of(points, section(cfg, "data")["split"], m, "fscore_0.02")[1] for m in METHODS}
    retrieval = max(ends[f"retrieval ({space})"][-1] for space, _ in SPACES)
    rises = sum(ends[m][-1] > ends[m][0] for m in PIPELINE)
    beat = sum(ends[m][-1] > retrieval for m in PIPELINE)
    assert f"It rises for {rises} of 4 pipeline methods" in table["verdict"]
    assert f"({retrieval:.3f}), and {beat} of 4 pipeline methods beat it" in table["verdict"]
    notes = (paths_of(cfg).experiment("learning_curve") / "table.md").read_text()
    assert "Sizes [5] are above the 3 training objects and were dropped." in notes
    assert table["verdict"] in (paths_of(cfg).experiment("learning_curve") / "table.md").read_text()


def ground_truth_score(cfg, obj: str, neighbour: str) -> dict:
    """The metrics of `neighbour`'s ground-truth solid against obj's ground truth, with the oracle's draws."""
    p, rc = paths_of(cfg), cfg.reconstruct
    truth = ground_truth(p, obj, rc, rng(cfg.seed, "90", obj))
    solid = {neighbour: trimesh.load(p.solid(neighbour), force="mesh", process=False)}
    return oracle_nearest(truth, solid, rc, lambda j: rng(cfg.seed, "oracle", obj, j))[1]


@pytest.mark.slow
def test_curve_oracle_searches_its_sizes_training_objects_and_bounds_their_retrieval(curve):
    cfg, table, *_ = curve
    key = headline(cfg.reconstruct.taus).key
    oracle = {(r["train_objects"], r["id"]): r for r in table["oracle"]}
    assert set(oracle) == {(k, i) for k in SUBSETS for i in TEST_IDS}
    for (k, i), r in oracle.items():
        assert r["neighbour"] in SUBSETS[k] and r["neighbour"] != i, (k, r)
        # the best of the size's candidates: no other one of them scores above it, with the same draws
        others = [ground_truth_score(cfg, i, j)[key] for j in SUBSETS[k] if j != r["neighbour"]]
        assert all(r[key] >= f for f in others), (k, r, others)
    for i in TEST_IDS:  # nested candidates, the same draws: a larger size's oracle never scores lower
        assert oracle[(2, i)][key] >= oracle[(1, i)][key]
    # the ceiling of retrieval among the same objects: at least the ground truth of retrieval's neighbour
    for r in table["retrieved"]:
        o = oracle[(r["train_objects"], r["id"])]
        assert o[key] >= ground_truth_score(cfg, r["id"], r["neighbour"])[key], (r, o)
    for p in table["points"]:
        if p["method"] == ORACLE:
            sel = [r[key] for (k, _), r in oracle.items() if k == p["train_objects"]]
            assert p[key] == pytest.approx(np.median(sel))
