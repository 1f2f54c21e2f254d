"""Each experiment on the tiny preset: its table has every row and no NaN, and the report
gathers them. One tiny base run is shared, as a researcher's experiments share their base run."""

import itertools
import math
import re

import numpy as np
import pytest
import trimesh

from hypershape.config import Route
from hypershape.experiments import EXPERIMENTS, heads, run_experiment
from hypershape.experiments.baseline import ORACLE
from hypershape.experiments.common import object_rows, variant
from hypershape.experiments.interpolation import DECODER, MODES, PathMeshes, path_stats
from hypershape.experiments.report import write_report
from hypershape.geometry.marching import mesh_from_sdf
from hypershape.geometry.metrics import chamfer
from hypershape.geometry.sdf import sample_surface
from hypershape.nets.shape_decoder import load_decoder
from hypershape.paths import Paths, paths_of
from hypershape.pipeline import run_all
from hypershape.routes.base import DecoderField
from hypershape.runtime import load_json, load_torch, rng
from hypershape.stages.common import image_spec

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
    assert [r["mode"] for r in t["rows"]] == list(MODES)
    # every mode walks the same pairs, drawn among route decoder's training objects (auto-decoded latents)
    ckpt = load_torch(Paths(base.data_dir, base.name, "decoder").mapper)
    train = ckpt["train_ids"]
    pairs = min(base.experiment.interpolation.pairs, math.comb(len(train), 2))
    assert len(t["pairs"]) == len(MODES) * pairs
    assert len(list(paths_of(base).experiment("interpolation").glob("strip_*.png"))) == pairs
    sdf = t["rows"][MODES.index("sdf")]
    assert sdf["valid share"] > 0  # blending two true SDFs gives closed meshes
    # the decoder's path starts and ends at the shared decoder's field at each end's own auto-decoded latent
    decoder, ps = load_decoder(ckpt["decoder"]), PathMeshes(base)
    res, bound = base.experiment.interpolation.resolution, base.reconstruct.bound

    def surface(mesh):
        return sample_surface(mesh, 5000, np.random.default_rng(0))[0]

    for row in (r for r in t["pairs"] if r["mode"] == DECODER):
        a, b = row["pair"].split(" → ")
        assert a in train and b in train
        path = ps.meshes(a, b, DECODER)
        for mesh, end, other in ((path[0], a, b), (path[-1], b, a)):
            field = DecoderField(decoder).numpy(ckpt["codes"][train.index(end)], "cpu", base.device.eval_chunk)
            own = mesh_from_sdf(field, res, bound)
            assert np.allclose(mesh.vertices, own.vertices, atol=1e-6) and np.array_equal(mesh.faces, own.faces)
            # ... and that field is the end's shape: nearer its ground truth than the other end's
            pts, truth = surface(mesh), {i: surface(trimesh.load(paths_of(base).solid(i))) for i in (a, b)}
            assert chamfer(pts, truth[end])[0] < chamfer(pts, truth[other])[0], (row["pair"], end)
        stats = path_stats(path, rng(base.seed, "interp", a, b))  # the row is this path's
        numbers = ("valid", "jump_ratio", "topology_changes")
        assert [row[k] for k in numbers] == pytest.approx([stats[k] for k in numbers])


def test_baseline_and_ood_and_report(base):
    b = table(base, "baseline")
    sirens = {"target", "retrieval", ORACLE, "predicted", "refined"}
    assert {r["SIREN"] for r in b["rows"] if r["split"] == "test"} == sirens
    # each object's neighbour is another training object, the nearest in the mapper's sketch space
    ckpt = load_torch(paths_of(base).mapper)
    feats, train = ckpt["features"], ckpt["train_ids"]
    for r in b["retrieved"]:
        others = [i for i in train if i != r["id"]]
        assert r["neighbour"] == min(others, key=lambda i: float((feats[i] - feats[r["id"]]).norm()))
    # the oracle searches the same objects, never the object itself; its row is the median of its objects
    assert {r["id"] for r in b["oracle"]} == {r["id"] for r in b["retrieved"]}
    assert all(r["neighbour"] in train and r["neighbour"] != r["id"] for r in b["oracle"])
    for row in (r for r in b["rows"] if r["SIREN"] == ORACLE):
        sel = [r["fscore_0.02"] for r in b["oracle"] if r["split"] == row["split"]]
        assert row["n"] == len(sel) and row["F@0.02"] == pytest.approx(np.median(sel))
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
    # the true outlines' hull: a row per resolution over every test object, each the median of its objects
    c = base.copy()
    c.experiment.outlines.resolutions = [8, 16]
    h = table(c, "outlines")
    tested = {r["id"] for r in b["retrieved"] if r["split"] == "test"}
    assert [r["views"] for r in h["rows"]] == ["8 px", "16 px"]
    for row, res in zip(h["rows"], (8, 16)):
        sel = [r for r in h["objects"] if r["resolution"] == res]
        assert {r["id"] for r in sel} == tested and {r["split"] for r in sel} == {"test"}
        assert row["n"] == len(sel) and row["F@0.02"] == pytest.approx(np.median([r["fscore_0.02"] for r in sel]))
    # the refinement from the truth: a row per test object, its target scored exactly as 90 scores it
    rf = table(base, "refinement")
    ninety = {r["id"]: r for r in object_rows(base) if r["kind"] == "target"}
    assert {r["id"] for r in rf["objects"]} == tested
    for r in rf["objects"]:
        assert r["target"]["fscore_0.02"] == ninety[r["id"]]["fscore_0.02"], r["id"]
    assert [r["field"] for r in rf["rows"]] == ["target", "refined"]
    for row in rf["rows"]:
        assert row["F@0.02"] == pytest.approx(np.median([r[row["field"]]["fscore_0.02"] for r in rf["objects"]]))
    text = write_report(base)
    # the report gathers every experiment's own table (or says how to run it) and the baseline's verdict
    for name in EXPERIMENTS:
        md = paths_of(base).experiment(name) / "table.md"
        assert (md.read_text() if md.exists() else f"`python experiment.py experiment={name} ") in text, name
    assert b["verdict"] in text
