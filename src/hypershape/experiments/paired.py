"""Finished runs compared object by object with base runs (experiment=paired; it runs nothing).

Each entry of experiment.paired.runs names one run per base run (the same order: e.g. one per readout
seed), read under the route experiment.paired.routes gives it (mapper.route by default, as the base runs
are: so two routes of the same runs pair too); every run is paired with the base run at its place, over the
same objects of one split, for each kind 90 scored (predicted, refined, oracle depth). A paired change is the
median over objects of (run − base) headline F-score; up and down count the objects that move beyond
experiment.paired.tolerance either way. Medians of two runs can differ by chance (which objects sit at the
middle), so the paired change, not the difference of two medians, says whether a setting moves the objects.
Over several base runs the table gives mean ± std of the per-run aggregates and sums the counts."""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..metrics import headline
from ..paths import Paths, paths_of
from ..runtime import load_json
from ..stages.reconstruct import LABELS, REFINEMENTS
from .common import mean_spread, readout_metrics, scores, spread, write_result

KINDS = ("predicted", *REFINEMENTS)
BASE = "base"
"""The label of the base runs' own rows."""


def run_rows(cfg, run: str, split: str, route: str) -> dict[str, dict[str, dict]]:
    """{kind: {object id: 90's per-object row}} of run `run` (cfg's data_dir) under `route` on `split`."""
    p = Paths(cfg.data_dir, run, route=route)
    if not p.summary_json.is_file():
        raise UserError(f"experiment.paired: run {run} has no {p.summary_json} (run its 90_reconstruct first)")
    out: dict[str, dict[str, dict]] = {}
    for r in load_json(p.summary_json)["rows"]:
        if r["split"] == split and r["kind"] in KINDS:
            out.setdefault(r["kind"], {})[r["id"]] = r
    if not out:
        raise UserError(f"experiment.paired: run {run} scored no {split} object (its eval_splits)")
    return out


def paired_change(base: dict[str, dict], other: dict[str, dict], key: str, tolerance: float) -> dict:
    """Median over the shared objects of (other − base)[key], and how many move up and down beyond
    `tolerance`. Both must hold the same objects: a pairing over a subset would say nothing of the rest."""
    if set(base) != set(other):
        missing = sorted(set(base) ^ set(other))
        raise UserError(f"experiment.paired: the runs scored different objects ({', '.join(missing[:5])} ...)")
    d = np.array([other[i][key] - base[i][key] for i in sorted(base)], dtype=float)
    return dict(change=float(np.median(d)), up=int((d > tolerance).sum()), down=int((d < -tolerance).sum()))


def plan(cfg) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """(base runs, {label: runs}, {label: route}) with every label naming one run per base run."""
    e = cfg.experiment.paired
    bases = list(e.base_runs) or [cfg.name]
    entries = [list(names) for names in e.runs]
    if not entries:
        raise UserError("experiment.paired.runs is empty: name the runs to compare, [[run, ...], ...]")
    own = paths_of(cfg).route
    routes = list(e.routes) or [own] * len(entries)
    if len(routes) != len(entries):
        raise UserError(
            f"experiment.paired.routes must give one route per entry of experiment.paired.runs ({len(entries)})"
        )
    labels = list(e.labels) or [names[0] for names in entries]
    if len(labels) != len(entries) or len(set(labels)) != len(labels) or BASE in labels:
        raise UserError(
            f"experiment.paired.labels must give one label per entry of experiment.paired.runs ({len(entries)}), "
            f"all different and none '{BASE}'"
        )
    for label, names in zip(labels, entries):
        if len(names) != len(bases):
            raise UserError(
                f"experiment.paired.runs: {label} names {len(names)} runs for {len(bases)} base runs "
                f"({', '.join(bases)}): one per base run, in the same order"
            )
    return bases, dict(zip(labels, entries)), {BASE: own, **dict(zip(labels, routes))}


def run(cfg) -> str:
    e = cfg.experiment.paired
    bases, runs, routes = plan(cfg)
    shown = readout_metrics(cfg.reconstruct.taus)
    fscore = headline(cfg.reconstruct.taus)
    base_rows = [run_rows(cfg, b, e.split, routes[BASE]) for b in bases]
    rows, points = [], []
    for label, names in {BASE: bases, **runs}.items():
        per_seed = base_rows if label == BASE else [run_rows(cfg, n, e.split, routes[label]) for n in names]
        for kind in KINDS:
            if any(kind not in r for r in per_seed + base_rows):
                continue  # a kind one run did not make (shape_siren.refine.oracle_depth off)
            aggregates, changes = [], []
            for b, r in zip(base_rows, per_seed):
                aggregates.append(scores(list(r[kind].values()), shown))
                if label != BASE:
                    changes.append(paired_change(b[kind], r[kind], fscore.key, e.tolerance))
            row = {"runs": label, "kind": LABELS[kind], "seeds": len(names), "n": len(per_seed[0][kind])}
            row.update(spread(aggregates, shown))
            if changes:
                row["paired change"] = mean_spread([c["change"] for c in changes], "{:+.3f}")
                row["up"] = sum(c["up"] for c in changes)
                row["down"] = sum(c["down"] for c in changes)
            rows.append(row)
            points.append(dict(runs=label, kind=kind, names=names, aggregates=aggregates, changes=changes))
    notes = (
        f"Split {e.split}. Base runs {', '.join(bases)} (route {routes[BASE]}); "
        + "; ".join(f"{label}: {', '.join(names)} (route {routes[label]})" for label, names in runs.items())
        + f". Medians over objects, mean ± std over the runs of each row. Paired change: the median over objects "
        f"of (run − its base run) {fscore.label}, mean ± std over the pairs; up, down: objects that move by more "
        f"than {e.tolerance} either way, summed over the pairs."
    )
    columns = ["runs", "kind", "seeds", "n", *(m.label for m in shown), "paired change", "up", "down"]
    return write_result(
        cfg,
        "paired",
        "Runs against base runs, object by object",
        notes,
        columns,
        rows,
        extra=dict(points=points),
        seeds=("base_runs", bases),
    )
