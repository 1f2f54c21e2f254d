"""Reading held-out objects off the weights: route hybrid beside its candidates alone (routes probe
and latent), the learned readout (route decoder) and the retrieval baselines, predicted and refined, on train
and test objects, over readout seeds.

The base run is route hybrid on every object (cfg, train and test). Routes probe, latent and decoder are the same
run's route folders (70 on), probe and latent scored on the test objects (eval_splits=[test]), decoder on the
train objects too (it reads them through its readout, so its train rows say what the readout recovers of the
objects it learnt from, not memory). Each further readout seed s is
a variant `<name>-r<s>` (readout_seed=s: the autoencoder, the mappers, the probe's fit and the refinement)
branched from the base run, every route on the test objects; the per-object work (01–50, 60's targets)
is shared. Retrieval, once (it has no readout seed): the nearest training object's target in the
hypernetwork sketch (the learned mappers' input space: hypernetwork weights, count-sketched) and in the
probe's space (the views each hypernetwork draws), for every object (train objects look up another one),
and the oracle nearest neighbour: the training object whose ground truth scores best against the object's
(the ceiling of retrieving ground truths).
With experiment.readout.ood the same is repeated on data.split=ood (`<name>-ood`, `<name>-ood-r<s>`). Each of
experiment.readout.ingredients (the ablation) repeats one route's runs with some settings changed, on test objects."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import trimesh

from ..config import readout_seed, section
from ..geometry.marching import mesh_from_sdf
from ..metrics import Metric
from ..nets.siren import siren_field
from ..paths import paths_of
from ..pipeline import run_all
from ..render import thumbnail
from ..runtime import device_of, load_torch
from ..stages.common import shape_spec
from .baseline import ORACLE, oracle_rows, retrieval_rows
from .common import (
    object_rows,
    rates_note,
    readout_metrics,
    run_from,
    save_figure,
    scores,
    spread,
    variant,
    write_result,
)

ROUTES = ("hybrid", "probe", "latent", "decoder")  # hybrid, its learned and probed candidates alone, the decoder
TRAIN_SCORED = ("hybrid", "decoder")
"""The routes scored on the train objects too, at the first readout seed of each held-out split: hybrid (the
base run) and decoder, which reads every object through its readout, never from memory."""
SPACES = (("sketch", "latent"), ("probe", "probe"))  # retrieval: (input space, the route whose 70 keeps it)
COLUMNS = ["held out", "split", "method", "seeds", "n"]
"""The columns before the metrics' (common.readout_metrics)."""


def plan(cfg) -> list[tuple[str, int, dict]]:
    """(held-out split, readout seed, {route or "route, ingredient": run}) of every run; the first is the base
    run (hybrid on all). An ingredient's run is its route's run of that seed with the overrides, branched from
    it (`<run>-<ingredient>`), so it redoes only the stages they change."""
    e = cfg.experiment.readout
    seeds = list(e.readout_seeds)
    if not seeds:
        raise ValueError("experiment.readout.readout_seeds must name at least one readout seed")
    ingredients = {name: dict(ing) for name, ing in e.ingredients.items()}
    for name, ing in ingredients.items():
        if ing.get("route") not in ROUTES:
            raise ValueError(f"experiment.readout.ingredients.{name}.route must be one of {', '.join(ROUTES)}")
    base = variant(cfg, None, **{"mapper.route": "hybrid"})
    if seeds[0] != readout_seed(cfg):
        base.readout_seed = seeds[0]
    heads = [(section(cfg, "data").get("split", "test"), base)]  # named after the base run's held-out split
    if e.ood:
        if "split" not in cfg.data:
            raise ValueError(
                "experiment.readout.ood repeats the runs with data.split=ood, which this config does not have"
            )
        heads.append(("ood", variant(base, "ood", **{"data.split": "ood"})))
    out = []
    for held, head in heads:
        for s in seeds:
            # a later seed branches from its split's first run (the ood split has its own 40/50 anchors)
            first = head if s == seeds[0] else variant(head, f"r{s}", readout_seed=s, eval_splits=["test"])
            runs = {"hybrid": first}
            for route in ROUTES[1:]:
                splits = list(first.eval_splits) if route in TRAIN_SCORED else ["test"]
                runs[route] = variant(first, None, **{"mapper.route": route, "eval_splits": splits})
            for name, ing in ingredients.items():
                runs[f"{ing['route']}, {name}"] = variant(
                    runs[ing["route"]], name, **ing.get("overrides", {}), eval_splits=["test"]
                )
            out.append((held, s, runs))
    return out


def run(cfg) -> str:
    runs = plan(cfg)  # fails before any work on a bad request
    shown = readout_metrics(cfg.reconstruct.taus)
    points, retrieved = [], {}
    for held, seed, by_route in runs:
        run_all(by_route["hybrid"])
        for route in ROUTES[1:]:
            run_from(by_route[route], "70_mapper")
        for key, c in by_route.items():
            if key not in ROUTES:  # an ingredient may change any stage (hypernet.copies: 50 on)
                run_all(c)
        for route, c in by_route.items():
            for split, rows in by_split(object_rows(c)).items():
                for kind in ("predicted", "refined"):
                    sel = [r for r in rows if r["kind"] == kind]
                    points.append(dict(held_out=held, split=split, method=f"{route} {kind}", seed=seed, n=len(sel)))
                    points[-1].update(scores(sel, shown))
        if held not in retrieved:  # once per split: retrieval has no readout seed
            retrieved[held] = baselines(by_route, held, shown, points)
    base = runs[0][2]
    picture(base["hybrid"], [r for r in retrieved[runs[0][0]] if r["space"] == "sketch"])
    rows = table_rows(points, shown)
    verdict = verdict_of(points, shown[0])
    notes = (
        f"{rates_note(shown)} Mean ± std over readout seeds of those aggregates. "
        "Route hybrid keeps, per object, whichever of latent's, probe's and retrieval's (sketch) shapes draws "
        "views closest to the hypernetwork's; on a train object its retrieval candidate is the object's own "
        "target (memory). Route decoder reads train objects through its readout too (never memory). Routes probe "
        "and latent, and seeds after the first, are scored on test objects only. Retrieval looks up another "
        "training object in the sketch of the hypernetwork weights or in the "
        "probe's views; the oracle nearest neighbour is the other training object whose ground truth scores best "
        "against the object's (the ceiling of retrieving ground truths; it reads the held-out shape). Rows "
        "'route, ingredient' are that route's runs with the ingredient's settings changed "
        "(experiment.readout.ingredients), on test objects. " + verdict
    )
    return write_result(
        cfg,
        "readout",
        "Reading held-out objects off the weights: routes, candidates and retrieval",
        notes,
        COLUMNS + [m.label for m in shown],
        rows,
        extra=dict(points=points, retrieved=[r for rs in retrieved.values() for r in rs], verdict=verdict),
        seeds=("readout_seeds", list(cfg.experiment.readout.readout_seeds)),
    )


def baselines(by_route: dict, held: str, shown: list[Metric], points: list[dict]) -> list[dict]:
    """The per-object rows of both retrievals and of the oracle nearest neighbour on every object the base
    run (by_route's hybrid) scored; each method's aggregates per split are appended to `points`."""
    split_of = {r["id"]: r["split"] for r in object_rows(by_route["hybrid"]) if r["kind"] == "predicted"}
    found = [(space, f"retrieval ({space})", retrieval_rows(by_route[route], split_of)) for space, route in SPACES]
    used = load_torch(paths_of(by_route["hybrid"]).mapper)["train_ids"]  # the objects the readout learnt from
    found.append(("oracle", ORACLE, oracle_rows(by_route["hybrid"], split_of, used)))
    out = []
    for space, method, rows in found:
        rows = [dict(r, held_out=held, space=space) for r in rows]
        out += rows
        for split, sel in by_split(rows).items():
            points.append(dict(held_out=held, split=split, method=method, seed=None, n=len(sel), **scores(sel, shown)))
    return out


def by_split(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["split"], []).append(r)
    return out


def table_rows(points: list[dict], shown: list[Metric]) -> list[dict]:
    """One row per (held-out split, split, method): mean ± std over seeds of each metric."""
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        groups.setdefault((p["held_out"], p["split"], p["method"]), []).append(p)
    rows = []
    for (held, split, method), ps in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "train", kv[0][2])):
        row = {"held out": held, "split": split, "method": method, "seeds": len(ps), "n": ps[0]["n"]}
        row.update(spread(ps, shown))
        rows.append(row)
    return rows


def verdict_of(points: list[dict], fscore: Metric) -> str:
    """Plain words on the readout's goal: held-out predicted F-score (`fscore`, the headline) of route hybrid
    (mean over seeds) >= 0.5 and >= 0.15 above both retrievals, beside the oracle nearest neighbour; train
    predicted >= 0.95."""

    def mean(held, split, method):
        v = [p[fscore.key] for p in points if (p["held_out"], p["split"], p["method"]) == (held, split, method)]
        return float(np.mean(v)) if v else None

    words = []
    for held in sorted({p["held_out"] for p in points}):
        pred = mean(held, "test", "hybrid predicted")
        retr = [mean(held, "test", f"retrieval ({s})") for s, _ in SPACES]
        oracle = mean(held, "test", ORACLE)
        if pred is None or None in retr or oracle is None:
            continue
        ok = pred >= 0.5 and pred >= max(retr) + 0.15
        words.append(
            f"{held} test: hybrid predicted {fscore.label} {pred:.3f} vs retrieval {max(retr):.3f} "
            f"({'meets' if ok else 'misses'} >= 0.5 and +0.15), {ORACLE} {oracle:.3f}"
        )
        train = mean(held, "train", "hybrid predicted")
        if train is not None:
            words.append(f"{held} train: {train:.3f} ({'meets' if train >= 0.95 else 'misses'} >= 0.95)")
    return "; ".join(words) + "." if words else ""


def picture(cfg, retrieved: list[dict]) -> None:
    """The test objects of the base run: ground truth, retrieval (sketch), hybrid predicted and refined."""
    p, spec, rc = paths_of(cfg), shape_spec(cfg), cfg.reconstruct
    neighbour = {r["id"]: r["neighbour"] for r in retrieved if r["split"] == "test"}
    ids = sorted(neighbour)[: rc.picture_objects]
    if not ids:
        return
    titles = ("ground truth", "retrieval", "predicted", "refined")
    fig, axes = plt.subplots(len(ids), 4, figsize=(8, 2 * len(ids)), squeeze=False)
    for i, oid in enumerate(ids):
        flat = load_torch(p.target(neighbour[oid]))["flat"]
        field = siren_field(spec, flat, device_of(cfg), cfg.device.eval_chunk)
        meshes = (
            trimesh.load(p.solid(oid), force="mesh", process=False),
            mesh_from_sdf(field, rc.resolution, rc.bound),
            *(trimesh.load(p.mesh(oid, k), force="mesh", process=False) for k in ("predicted", "refined")),
        )
        for j, mesh in enumerate(meshes):
            axes[i, j].imshow(thumbnail(mesh))
            axes[i, j].axis("off")
            if i == 0:
                axes[i, j].set_title(titles[j], fontsize=9)
        axes[i, 0].text(-0.05, 0.5, oid, transform=axes[i, 0].transAxes, ha="right", va="center", fontsize=7)
    fig.tight_layout()
    save_figure(fig, p.experiment("readout") / "test_objects.png")
