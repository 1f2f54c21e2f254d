"""Experiment 1: the routes (every mapper.route: latent, direct, probe, hybrid) on the same objects, split and
budget, per seed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..config import Route
from ..metrics import compared_metrics, headline, select
from ..paths import paths_of
from ..pipeline import run_all
from ..stages.reconstruct import KINDS, LABELS
from .common import mean_spread, run_from, save_figure, summary_rows, variant, write_result


def compared(cfg) -> tuple[str, ...]:
    """experiment.routes.routes, or every registered route; the first is the base run."""
    known = tuple(r.value for r in Route)
    chosen = tuple(cfg.experiment.routes.routes) or known
    unknown = [r for r in chosen if r not in known]
    if unknown:
        raise ValueError(f"experiment.routes.routes: unknown route {', '.join(unknown)} (known: {', '.join(known)})")
    return chosen


def runs(cfg):
    """(seed, {route: run}) for every seed; seed == cfg.seed is cfg itself. The routes of a seed are one
    run with one folder per route from 70 on."""
    routes = compared(cfg)
    out = []
    for seed in cfg.experiment.routes.seeds:
        first = variant(cfg, None if seed == cfg.seed else f"seed{seed}", seed=seed, **{"mapper.route": routes[0]})
        out.append((seed, {route: variant(first, None, **{"mapper.route": route}) for route in routes}))
    return out


def run(cfg) -> str:
    routes = compared(cfg)
    rows_by_key: dict[tuple, list[dict]] = {}
    for _seed, by_route in runs(cfg):
        run_all(by_route[routes[0]])
        for route in routes[1:]:
            run_from(by_route[route], "70_mapper")  # same run, its own route folders: 01–60 are shared
        for route, c in by_route.items():
            for r in summary_rows(c):
                rows_by_key.setdefault((route, r["split"], r["kind"]), []).append(r)
    taus = cfg.reconstruct.taus
    shown = compared_metrics(taus) + select(taus, "components_filtered")  # components: how routes fail
    table = []
    for (route, split, kind), rs in sorted(
        rows_by_key.items(), key=lambda kv: (kv[0][1] != "train", KINDS.index(kv[0][2]), kv[0][0])
    ):
        if kind == "target" and route != routes[0]:
            continue  # targets do not depend on the route: listed once, as the upper bound
        row = {"split": split, "SIREN": LABELS[kind], "route": "—" if kind == "target" else route, "n": rs[0]["n"]}
        row.update({m.label: mean_spread([r[m.summary_key] for r in rs]) for m in shown})
        table.append(row)
    fig = figure(rows_by_key, routes, headline(cfg.reconstruct.taus))
    save_figure(fig, paths_of(cfg).experiment("routes") / "routes.png")
    return write_result(
        cfg,
        "routes",
        "Experiment 1: the routes",
        "Medians over objects (genus ok: share of objects), mean ± std over seeds. "
        "Target SIRENs are the upper bound; test objects never trained the AE or the mapper.",
        ["split", "SIREN", "route", "n"] + [m.label for m in shown],
        table,
        seeds=("seeds", list(cfg.experiment.routes.seeds)),
    )


def figure(rows_by_key, routes, fscore):
    """Bars of the headline F-score (`fscore`, a registry metric) per route and kind, one panel per split."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for ax, split in zip(axes, ("train", "test")):
        labels, means, errs = [], [], []
        for kind in ("target", "predicted", "refined"):
            for route in routes:
                rs = rows_by_key.get((route, split, kind))
                if not rs or (kind == "target" and route != routes[0]):
                    continue
                v = [r[fscore.summary_key] for r in rs]
                labels.append(kind if kind == "target" else f"{kind}\n{route}")
                means.append(sum(v) / len(v))
                errs.append(0 if len(v) < 2 else float(np.std(v, ddof=1)))
        ax.bar(range(len(means)), means, yerr=errs, color=["#777"] + ["#4c72b0", "#dd8452", "#55a868"] * 2)
        ax.set_xticks(range(len(means)), labels, fontsize=7)
        ax.set_title(f"{split} split")
        ax.set_ylim(0, 1)
    axes[0].set_ylabel(f"median {fscore.label}")
    fig.tight_layout()
    return fig
