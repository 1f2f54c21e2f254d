"""The learning curve: held-out quality against the number of objects the readout learns from.

The per-object stages (01–50, 60's targets) are made once, in the base run. Each (size k, readout seed s)
is a variant run branched from it with data.train_limit=k (60's autoencoder and 70's mapper learn from the
first k train objects of a seeded, nested order), readout_seed=s and eval_splits=[test] (80 and 90 on the
held-out objects only); the manifests reuse every per-object output, so only 60's autoencoder and 70–90
are made. The routes of experiment.learning_curve.routes share a variant (route folders): the first runs every
stage, the others from 70 on. Once per size, among the same k objects: retrieval in the two spaces the
readout experiment has (readout.SPACES: the hypernetwork sketch kept by route latent's 70, the views each
hypernetwork draws kept by route probe's 70; a space whose route is not on the curve has only its 70 made),
and the oracle nearest neighbour (the one of those k whose ground truth scores best against the held-out
object's: the ceiling of retrieving their ground truths). Sizes above the base run's train split are dropped
before any variant is made. experiment.learning_curve.readout_seeds are repeated at the largest size only;
the smaller sizes use the first seed. With experiment.learning_curve.ood the largest size is repeated on
data.split=ood."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np

from .. import routes as route_registry
from ..config import section
from ..errors import UserError
from ..metrics import Metric
from ..objects import Subset, load_objects
from ..paths import SCRIPTS, paths_of
from ..pipeline import run_all, run_stage
from ..runtime import load_torch
from .baseline import ORACLE, oracle_rows, retrieval_rows
from .common import (
    object_rows,
    rates_note,
    readout_metrics,
    run_from,
    save_figure,
    scores,
    spread,
    summary_rows,
    variant,
    write_result,
)
from .readout import SPACES

log = logging.getLogger("hypershape")
KINDS = ("predicted", "refined")
RETRIEVALS = tuple(f"retrieval ({space})" for space, _ in SPACES)
BASELINES = (*RETRIEVALS, ORACLE)
"""The methods with no readout seed, made once per size."""
COLUMNS = ["held out", "train objects", "used", "method", "seeds", "n"]
"""The columns before the metrics' (common.readout_metrics)."""


def pipeline_methods(routes: list[str]) -> list[str]:
    """The rows each route makes: its predicted and refined shapes."""
    return [f"{route} {kind}" for route in routes for kind in KINDS]


def settings(cfg) -> tuple[list[str], list[int], list[int]]:
    """(routes, sizes ascending, readout seeds) of the curve; UserError on a bad request, before any work."""
    e = cfg.experiment.learning_curve
    names, sizes, seeds = list(e.routes), sorted(set(e.train_sizes)), list(e.readout_seeds)
    if not names or len(set(names)) != len(names):
        raise UserError(f"experiment.learning_curve.routes must name distinct routes, got {names}")
    for name in names:
        try:
            route_registry.get(name)
        except ValueError as err:  # the registry's own words, said as the curve's
            raise UserError(f"experiment.learning_curve.routes: {err}") from None
    if not sizes or sizes[0] < 1 or not seeds:
        raise UserError(
            f"experiment.learning_curve.train_sizes must be >= 1 and readout_seeds non-empty, got {sizes}, {seeds}"
        )
    if e.ood and "split" not in cfg.data:
        raise UserError(
            "experiment.learning_curve.ood repeats the curve with data.split=ood, which this config does not "
            "have: pass experiment.learning_curve.ood=false"
        )
    return names, sizes, seeds


def fitting_sizes(cfg, train_count: int) -> tuple[list[int], list[int]]:
    """(kept, dropped): the sizes of the curve that the base run's `train_count` training objects can fill,
    and those above it."""
    sizes = settings(cfg)[1]
    return [k for k in sizes if k <= train_count], [k for k in sizes if k > train_count]


def plan(cfg, train_count: int) -> list[tuple[str, int, int, dict]]:
    """(held-out split, size, readout seed, {route: variant}) of every run of the curve; the first route's
    variant runs every stage, the others branch off it at 70 (same run, their own route folders). Sizes above
    `train_count` (the base run's training objects) are left out."""
    names, _, seeds = settings(cfg)
    sizes = fitting_sizes(cfg, train_count)[0]
    if not sizes:
        raise UserError(
            f"every experiment.learning_curve.train_sizes {settings(cfg)[1]} is above the {train_count} training "
            "objects: pass smaller ones"
        )

    def run_of(held: str, k: int, s: int, **extra):
        overrides = {"data.train_limit": k, "readout_seed": s, "eval_splits": ["test"], "mapper.route": names[0]}
        first = variant(cfg, f"curve-{held}-n{k}-r{s}", **overrides, **extra)
        return (held, k, s, {r: variant(first, None, **{"mapper.route": r}) for r in names})

    base = section(cfg, "data").get("split", "test")  # the held-out split of the base run
    out = [run_of(base, k, s) for k in sizes for s in (seeds if k == sizes[-1] else seeds[:1])]
    if cfg.experiment.learning_curve.ood:
        ood = [run_of("ood", sizes[-1], s, **{"data.split": "ood"}) for s in seeds]
        for *_, runs in ood[1:]:  # the ood split's own 40/50 anchors and objects, made once by its first run
            for c in runs.values():
                c.branch_from = ood[0][3][names[0]].name
        out += ood
    return out


def train_count(cfg) -> int:
    """The base run's training objects, from 01's object list (made here if it is not yet)."""
    run_stage(SCRIPTS["01_download"], cfg)
    return sum(o.split == Subset.train for o in load_objects(paths_of(cfg).objects, fetched_only=True))


def run(cfg) -> str:
    names = settings(cfg)[0]  # fails before any work on a bad request
    n_train = train_count(cfg)
    runs, dropped = plan(cfg, n_train), fitting_sizes(cfg, n_train)[1]
    if dropped:
        log.info("learning curve: sizes %s are above the %d training objects: dropped", dropped, n_train)
    shown = readout_metrics(cfg.reconstruct.taus)
    run_all(cfg, until="60_train_weight_ae")  # the per-object work every variant shares
    points, found, looked_up = [], [], set()
    known = {}  # per held-out split, the oracle's scores of each (object, candidate): the nested sizes reuse them
    for held, k, s, by_route in runs:
        first = by_route[names[0]]
        run_all(first)  # 01–50 and 60's targets are up to date (linked from the base run), the rest is made
        for c in list(by_route.values())[1:]:
            run_from(c, "70_mapper")
        used = load_torch(paths_of(first).mapper)["train_ids"]
        about = dict(held_out=held, train_objects=k, used=len(used), seed=s)
        for route, c in by_route.items():
            for r in summary_rows(c):
                if r["split"] == Subset.test and r["kind"] in KINDS:
                    m = {m.key: r[m.summary_key] for m in shown}
                    points.append(dict(about, method=f"{route} {r['kind']}", n=r["n"], run=c.name, **m))
        if (held, k) not in looked_up:  # the baselines have no readout seed: once per size
            looked_up.add((held, k))
            for method, rows in baselines(by_route, about, used, known.setdefault(held, {})).items():
                found += rows
                point = dict(about, seed=None, method=method, n=len(rows), run=first.name)
                points.append(dict(point, **scores(rows, shown)))
    return write_curve(cfg, names, points, found, shown, runs[0][0], (n_train, dropped))


def write_curve(cfg, names, points, found, shown, held, dropped) -> str:
    """The table, figure and verdict of the curve's points (`held`: the base run's held-out split; `dropped`:
    (training objects, the sizes above them))."""
    methods = pipeline_methods(names) + list(BASELINES)
    rows = table_rows(points, shown, methods)
    verdict = verdict_of(points, held, shown[0], names)
    save_figure(figure(points, held, shown[0], methods), paths_of(cfg).experiment("learning_curve") / "curve.png")
    sizes, seeds = sorted({p["train_objects"] for p in points}), list(cfg.experiment.learning_curve.readout_seeds)
    short = sorted({(p["train_objects"], p["used"]) for p in points if p["used"] < p["train_objects"]})
    scored = {(p["held_out"], p["train_objects"], p["method"]) for p in points if p["n"]}
    unscored = [(h, k, m) for h, k in sorted({(p["held_out"], p["train_objects"]) for p in points}) for m in methods]
    unscored = [f"{m} at {k} ({h})" for h, k, m in unscored if (h, k, m) not in scored]
    n_train, above = dropped
    notes = (
        f"Test objects only (the split is fixed by data.catalogue_seed {cfg.data.catalogue_seed}); the autoencoder, "
        f"the mapper, both retrievals (sketch, probe) and the {ORACLE} (the ceiling of retrieving ground truths: it "
        f"reads the held-out shape) learn from the first k train objects of a seeded nested order. Readout seeds "
        f"{seeds} at k = {sizes[-1]}, seed {seeds[0]} at the other sizes (mean ± std over seeds); retrieval and the "
        f"oracle are once per size. {rates_note(shown)} "
        + (f"Sizes {above} are above the {n_train} training objects and were dropped. " if above else "")
        + (f"Fewer train objects than asked were usable (asked, used): {short}. " if short else "")
        + (f"No object was scored (see that variant's 90 summary) for: {', '.join(unscored)}. " if unscored else "")
        + verdict
    )
    return write_result(
        cfg,
        "learning_curve",
        "Learning curve: held-out quality against the number of training objects",
        notes,
        COLUMNS + [m.label for m in shown],
        rows,
        extra=dict(
            points=points,
            retrieved=[r for r in found if r["space"] != "oracle"],
            oracle=[r for r in found if r["space"] == "oracle"],
            verdict=verdict,
        ),
        seeds=("readout_seeds", seeds),
    )


def baselines(by_route: dict, about: dict, used: list[str], known: dict) -> dict[str, list[dict]]:
    """{method: per-object rows} of both retrievals and of the oracle nearest neighbour on the test objects of
    one size's runs ({route: variant}), all among the `used` training objects its readout learnt from. A
    retrieval space whose route is not on the curve gets that route's 70 made in the variant. `known`: the
    oracle's scores so far (baseline.oracle_rows)."""
    first = next(iter(by_route.values()))
    # the test objects some route scored: one whose upstream failed has no ground truth to score against
    test = {r["id"]: r["split"] for c in by_route.values() for r in object_rows(c) if r["split"] == Subset.test}
    made = {}
    for (space, route), method in zip(SPACES, RETRIEVALS):
        c = by_route.get(route)
        if c is None:
            c = variant(first, None, **{"mapper.route": route})
            run_stage(SCRIPTS["70_mapper"], c)
        made[space] = (method, retrieval_rows(c, test))
    made["oracle"] = (ORACLE, oracle_rows(first, test, used, known))
    tag = dict(held_out=about["held_out"], train_objects=about["train_objects"])
    return {method: [dict(r, space=space, **tag) for r in rows] for space, (method, rows) in made.items()}


def table_rows(points: list[dict], shown: list[Metric], methods: list[str]) -> list[dict]:
    """One row per (held-out split, size, method), methods in `methods`' order: mean ± std over seeds of each
    metric."""
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        groups.setdefault((p["held_out"], p["train_objects"], p["method"]), []).append(p)
    rows = []
    for (held, k, method), ps in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], methods.index(kv[0][2]))):
        row = {"held out": held, "train objects": k, "used": ps[0]["used"], "method": method}
        row.update(seeds=len(ps), n=ps[0]["n"], **spread(ps, shown))
        rows.append(row)
    return rows


def curve_of(points: list[dict], held: str, method: str, key: str) -> tuple[list[int], list[float], list[float]]:
    """Sizes, mean held-out metric `key` over seeds and its std (0 for one seed) of one method, where it scored
    an object."""
    by_size: dict[int, list[float]] = {}
    for p in points:
        if p["held_out"] == held and p["method"] == method and p["n"]:
            by_size.setdefault(p["train_objects"], []).append(p[key])
    sizes = sorted(by_size)
    means = [float(np.mean(by_size[k])) for k in sizes]
    stds = [float(np.std(by_size[k], ddof=1)) if len(by_size[k]) > 1 else 0.0 for k in sizes]
    return sizes, means, stds


def verdict_of(points: list[dict], held: str, fscore: Metric, routes: list[str]) -> str:
    """Plain words from the numbers: does the held-out F-score (`fscore`, the headline) of each route's rows
    rise from the smallest to the largest size, and does the best of them beat the better retrieval at the
    largest, beside the oracle nearest neighbour (the ceiling of retrieving ground truths)?"""
    curves = {m: curve_of(points, held, m, fscore.key) for m in (*pipeline_methods(routes), *BASELINES)}
    curves = {m: c for m, c in curves.items() if c[0]}  # a method with no scored object at any size: left out
    pipeline = [m for m in pipeline_methods(routes) if m in curves]
    sizes = sorted({k for c in curves.values() for k in c[0]})
    if len(sizes) < 2:
        return f"One size only ({sizes}): no curve to read."
    if not pipeline or any(m not in curves for m in BASELINES):
        return f"No curve to read: only {', '.join(curves)} scored an object."
    ends = {m: (c[1][0], c[1][-1]) for m, c in curves.items()}
    rises = [m for m in pipeline if ends[m][1] > ends[m][0]]
    steady = [m for m in rises if all(b >= a for a, b in zip(curves[m][1], curves[m][1][1:]))]
    best = max(pipeline, key=lambda m: ends[m][1])
    retrieval = max(RETRIEVALS, key=lambda m: ends[m][1])  # the better space at the largest size
    retr = ends[retrieval][1]
    beat = [m for m in pipeline if ends[m][1] > retr]
    numbers = ", ".join(f"{m} {a:.3f} → {b:.3f}" for m, (a, b) in ends.items())
    return (
        f"Held-out median {fscore.label} from {sizes[0]} to {sizes[-1]} training objects: {numbers}. It rises for "
        f"{len(rises)} of {len(pipeline)} pipeline methods ({len(steady)} of them at every step); at "
        f"{sizes[-1]} the best, {best} ({ends[best][1]:.3f}), "
        f"{'beats' if best in beat else 'does not beat'} the better retrieval, {retrieval} ({retr:.3f}), and "
        f"{len(beat)} of {len(pipeline)} pipeline methods beat it; the {ORACLE}, the ceiling of retrieving ground "
        f"truths, scores {ends[ORACLE][1]:.3f}."
    )


def figure(points: list[dict], held: str, fscore: Metric, methods: list[str]):
    """Held-out F-score (`fscore`) against the number of training objects (log x), one line per method (a colour
    per route, predicted solid, refined dash-dotted; the baselines dashed and dotted); error bars (std over
    readout seeds) where there are several; the ood repeat as hollow markers."""
    fig, ax = plt.subplots(figsize=(6, 4))
    routes = list(dict.fromkeys(m.rsplit(" ", 1)[0] for m in methods if m not in BASELINES))
    palette = ("#1f77b4", "#ff7f0e", "#d62728", "#9467bd", "#e377c2", "#17becf", "#bcbd22")  # not the baselines'
    colours = {r: palette[i % len(palette)] for i, r in enumerate(routes)}
    baseline_style = dict(zip(BASELINES, (("#777777", "--"), ("#8c564b", "--"), ("#2b8a3e", ":"))))
    for m in methods:
        if m in BASELINES:
            colour, style = baseline_style[m]
        else:
            route, kind = m.rsplit(" ", 1)
            colour, style = colours[route], "-" if kind == "predicted" else "-."
        sizes, means, stds = curve_of(points, held, m, fscore.key)
        ax.errorbar(sizes, means, yerr=stds, fmt=f"o{style}", color=colour, capsize=3, label=m)
        k, ood, ood_std = curve_of(points, "ood", m, fscore.key)
        if k:
            ax.errorbar(k, ood, yerr=ood_std, fmt="s", mfc="none", color=colour, capsize=3, label=f"{m} (ood)")
    ax.set_xscale("log")
    sizes = sorted({p["train_objects"] for p in points})
    ax.set_xticks(sizes, [str(k) for k in sizes])
    ax.minorticks_off()
    ax.set_ylim(0, 1)
    ax.set_xlabel("training objects (autoencoder, mapper, retrieval, oracle)")
    ax.set_ylabel(f"held-out median {fscore.label} ({held})")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig
