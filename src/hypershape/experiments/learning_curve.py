"""The learning curve: held-out quality against the number of objects the readout learns from.

The per-object stages (01–50, 60's targets) are made once, in the base run. Each (size k, readout seed s)
is a variant run branched from it with data.train_limit=k (60's autoencoder and 70's mapper learn from the
first k train objects of a seeded, nested order), readout_seed=s and eval_splits=[test] (80 and 90 on the
held-out objects only); the manifests reuse every per-object output, so only 60's autoencoder and 70–90
are made. Both routes share a variant (route folders), and the retrieval baseline (baseline.py) looks up
the nearest of the same k objects, once per size; so does the oracle nearest neighbour (the one of those k
whose ground truth scores best against the held-out object's: the ceiling of any retrieval among them).
experiment.learning_curve.readout_seeds are repeated at the largest size only; the smaller sizes use the
first seed. With experiment.learning_curve.ood the largest size is repeated on data.split=ood."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..config import section
from ..metrics import Metric
from ..objects import Subset
from ..paths import paths_of
from ..pipeline import run_all
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

ROUTES = ("latent", "direct")
PIPELINE = tuple(f"{route} {kind}" for route in ROUTES for kind in ("predicted", "refined"))
BASELINES = ("retrieval", ORACLE)
"""The methods with no readout seed, made once per size."""
METHODS = PIPELINE + BASELINES
COLUMNS = ["held out", "train objects", "used", "method", "seeds", "n"]
"""The columns before the metrics' (common.readout_metrics)."""


def plan(cfg) -> list[tuple[str, int, int, object]]:
    """(held-out split, size, readout seed, latent-route variant) of every run of the curve."""
    e = cfg.experiment.learning_curve
    sizes, seeds = sorted(set(e.train_sizes)), list(e.readout_seeds)
    if not sizes or sizes[0] < 1 or not seeds:
        raise ValueError(
            f"experiment.learning_curve.train_sizes must be >= 1 and readout_seeds non-empty, got {sizes}, {seeds}"
        )

    def run_of(held: str, k: int, s: int, **extra):
        overrides = {"data.train_limit": k, "readout_seed": s, "eval_splits": ["test"], "mapper.route": "latent"}
        return (held, k, s, variant(cfg, f"curve-{held}-n{k}-r{s}", **overrides, **extra))

    base = section(cfg, "data").get("split", "test")  # the held-out split of the base run
    out = [run_of(base, k, s) for k in sizes for s in (seeds if k == sizes[-1] else seeds[:1])]
    if e.ood:
        if "split" not in cfg.data:
            raise ValueError(
                "experiment.learning_curve.ood repeats the curve with data.split=ood, which this config does not "
                "have: pass experiment.learning_curve.ood=false"
            )
        ood = [run_of("ood", sizes[-1], s, **{"data.split": "ood"}) for s in seeds]
        for *_, c in ood[1:]:  # the ood split's own 40/50 anchors and objects, made once by its first run
            c.branch_from = ood[0][3].name
        out += ood
    return out


def run(cfg) -> str:
    runs = plan(cfg)  # fails before any work on a bad request
    shown = readout_metrics(cfg.reconstruct.taus)
    run_all(cfg, until="60_train_weight_ae")  # the per-object work every variant shares
    points, found, looked_up = [], {m: [] for m in BASELINES}, set()
    for held, k, s, latent in runs:
        direct = variant(latent, None, **{"mapper.route": "direct"})
        run_all(latent)  # 01–50 and 60's targets are up to date (linked from the base run), the rest is made
        run_from(direct, "70_mapper")
        used = load_torch(paths_of(latent).mapper)["train_ids"]
        about = dict(held_out=held, train_objects=k, used=len(used), seed=s)
        for route, c in (("latent", latent), ("direct", direct)):
            for r in summary_rows(c):
                if r["split"] == Subset.test and f"{route} {r['kind']}" in PIPELINE:
                    m = {m.key: r[m.summary_key] for m in shown}
                    points.append(dict(about, method=f"{route} {r['kind']}", n=r["n"], run=c.name, **m))
        if (held, k) not in looked_up:  # the baselines have no readout seed: once per size
            looked_up.add((held, k))
            for method, rows in baselines(latent, about, used).items():
                found[method] += rows
                point = dict(about, seed=None, method=method, n=len(rows), run=latent.name)
                points.append(dict(point, **scores(rows, shown)))
    rows = table_rows(points, shown)
    verdict = verdict_of(points, runs[0][0], shown[0])
    save_figure(figure(points, runs[0][0], shown[0]), paths_of(cfg).experiment("learning_curve") / "curve.png")
    e = cfg.experiment.learning_curve
    sizes, seeds = sorted(set(e.train_sizes)), list(e.readout_seeds)
    short = sorted({(p["train_objects"], p["used"]) for p in points if p["used"] < p["train_objects"]})
    notes = (
        f"Test objects only (the split is fixed by data.catalogue_seed {cfg.data.catalogue_seed}); the autoencoder, "
        f"the mapper, retrieval and the {ORACLE} (the ceiling of retrieval: it reads the held-out shape) "
        f"learn from the first k train objects of a seeded nested order. Readout seeds {seeds} at "
        f"k = {sizes[-1]}, seed {seeds[0]} at the other sizes (mean ± std over seeds); retrieval and the oracle are "
        f"once per size. {rates_note(shown)} "
        + (f"Fewer train objects than asked were usable (asked, used): {short}. " if short else "")
        + verdict
    )
    return write_result(
        cfg,
        "learning_curve",
        "Learning curve: held-out quality against the number of training objects",
        notes,
        COLUMNS + [m.label for m in shown],
        rows,
        extra=dict(points=points, retrieved=found["retrieval"], oracle=found[ORACLE], verdict=verdict),
        seeds=("readout_seeds", seeds),
    )


def baselines(latent, about: dict, used: list[str]) -> dict[str, list[dict]]:
    """{method: per-object rows} of retrieval and of the oracle nearest neighbour on the test objects of one
    size's run (`latent`), both among the `used` training objects its mapper learnt from."""
    test = {r["id"]: r["split"] for r in object_rows(latent) if r["split"] == Subset.test}
    made = {"retrieval": retrieval_rows(latent, test), ORACLE: oracle_rows(latent, test, used)}
    tag = dict(held_out=about["held_out"], train_objects=about["train_objects"])
    return {method: [dict(r, **tag) for r in rows] for method, rows in made.items()}


def table_rows(points: list[dict], shown: list[Metric]) -> list[dict]:
    """One row per (held-out split, size, method): mean ± std over seeds of each metric."""
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        groups.setdefault((p["held_out"], p["train_objects"], p["method"]), []).append(p)
    rows = []
    for (held, k, method), ps in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], METHODS.index(kv[0][2]))):
        row = {"held out": held, "train objects": k, "used": ps[0]["used"], "method": method}
        row.update(seeds=len(ps), n=ps[0]["n"], **spread(ps, shown))
        rows.append(row)
    return rows


def curve_of(points: list[dict], held: str, method: str, key: str) -> tuple[list[int], list[float], list[float]]:
    """Sizes, mean held-out metric `key` over seeds and its std (0 for one seed) of one method."""
    by_size: dict[int, list[float]] = {}
    for p in points:
        if p["held_out"] == held and p["method"] == method:
            by_size.setdefault(p["train_objects"], []).append(p[key])
    sizes = sorted(by_size)
    means = [float(np.mean(by_size[k])) for k in sizes]
    stds = [float(np.std(by_size[k], ddof=1)) if len(by_size[k]) > 1 else 0.0 for k in sizes]
    return sizes, means, stds


def verdict_of(points: list[dict], held: str, fscore: Metric) -> str:
    """Plain words from the numbers: does the held-out F-score (`fscore`, the headline) rise from the smallest
    to the largest size, and does the pipeline beat retrieval at the largest?"""
    curves = {m: curve_of(points, held, m, fscore.key) for m in METHODS}
    sizes = curves[METHODS[0]][0]
    if len(sizes) < 2:
        return f"One size only ({sizes}): no curve to read."
    ends = {m: (c[1][0], c[1][-1]) for m, c in curves.items()}
    rises = [m for m in PIPELINE if ends[m][1] > ends[m][0]]
    steady = [m for m in rises if all(b >= a for a, b in zip(curves[m][1], curves[m][1][1:]))]
    best = max(PIPELINE, key=lambda m: ends[m][1])
    retr = ends["retrieval"][1]
    beat = [m for m in PIPELINE if ends[m][1] > retr]
    numbers = ", ".join(f"{m} {a:.3f} → {b:.3f}" for m, (a, b) in ends.items())
    return (
        f"Held-out median {fscore.label} from {sizes[0]} to {sizes[-1]} training objects: {numbers}. It rises for "
        f"{len(rises)} of {len(PIPELINE)} pipeline methods ({len(steady)} of them at every step); at "
        f"{sizes[-1]} the best, {best} ({ends[best][1]:.3f}), "
        f"{'beats' if best in beat else 'does not beat'} retrieval ({retr:.3f}), and {len(beat)} of "
        f"{len(PIPELINE)} pipeline methods beat it; the {ORACLE}, the ceiling of retrieval, scores "
        f"{ends[ORACLE][1]:.3f}."
    )


def figure(points: list[dict], held: str, fscore: Metric):
    """Held-out F-score (`fscore`) against the number of training objects (log x), one line per method; error bars
    (std over readout seeds) where there are several; the ood repeat as hollow markers."""
    fig, ax = plt.subplots(figsize=(6, 4))
    colours = dict(zip(METHODS, ("#4c72b0", "#1f3b70", "#dd8452", "#8c4a1c", "#777777", "#2b8a3e")))
    styles = {"retrieval": "--", ORACLE: ":"}
    for m in METHODS:
        sizes, means, stds = curve_of(points, held, m, fscore.key)
        style = styles.get(m, "-")
        ax.errorbar(sizes, means, yerr=stds, fmt=f"o{style}", color=colours[m], capsize=3, label=m)
        k, ood, ood_std = curve_of(points, "ood", m, fscore.key)
        if k:
            ax.errorbar(k, ood, yerr=ood_std, fmt="s", mfc="none", color=colours[m], capsize=3, label=f"{m} (ood)")
    ax.set_xscale("log")
    sizes = sorted({p["train_objects"] for p in points})
    ax.set_xticks(sizes, [str(k) for k in sizes])
    ax.minorticks_off()
    ax.set_ylim(0, 1)
    ax.set_xlabel("training objects (autoencoder, mapper, retrieval, oracle)")
    ax.set_ylabel(f"held-out median {fscore.label} ({held})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
