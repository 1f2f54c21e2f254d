"""What the experiments share: variants of a run (branched from it), tables with mean ± spread."""

from __future__ import annotations

import copy

import matplotlib.pyplot as pyplot
import numpy as np
from omegaconf import OmegaConf

from ..metrics import Metric, headline, select
from ..paths import SCRIPTS, STAGE_DIRS, paths_of
from ..pipeline import run_stage
from ..runtime import atomic_write, load_json, save_json
from ..stages.reconstruct import INPUTS


def variant(cfg, suffix: str | None = None, **overrides):
    """A copy of cfg with dotted overrides (e.g. **{"mapper.route": "direct"}), as run `<name>-<suffix>`
    branched from cfg's run (its finished stages are reused wherever the manifests say they still hold)."""
    c = copy.deepcopy(cfg)
    for key, value in overrides.items():
        OmegaConf.update(c, key, value, merge=False)
    if suffix:
        c.name = f"{cfg.name}-{suffix}"
        c.branch_from = cfg.name
    return c


def run_from(cfg, start: str, last: str | None = None) -> None:
    """Run the stages from `start` on, through `last` (None: every stage after it)."""
    end = STAGE_DIRS.index(last) + 1 if last else len(STAGE_DIRS)
    for stage in STAGE_DIRS[STAGE_DIRS.index(start) : end]:
        run_stage(SCRIPTS[stage], cfg)


def summary_rows(cfg) -> list[dict]:
    """The per-(split, kind) rows of a run's summary.json."""
    return load_json(paths_of(cfg).summary_json)["summary"]


def object_rows(cfg) -> list[dict]:
    """The per-object, per-kind metric rows of a run's summary.json."""
    return load_json(paths_of(cfg).summary_json)["rows"]


def readout_metrics(taus) -> list[Metric]:
    """The few registry metrics the readout tables (learning curve, readout) show: the headline F-score,
    Chamfer-L1 and the genus rate."""
    return [headline(taus), *select(taus, "chamfer_l1", "genus_match")]


def scores(rows: list[dict], shown: list[Metric]) -> dict:
    """Each metric's aggregate (metrics.py: median, or a rate) over per-object rows, by metric key."""
    return {m.key: m.over(r[m.key] for r in rows) for m in shown}


def spread(points: list[dict], shown: list[Metric]) -> dict:
    """'mean ± std' over seeds of each metric of `points` (one aggregate per seed), by column label."""
    return {m.label: mean_spread([p[m.key] for p in points]) for m in shown}


def rates_note(shown: list[Metric]) -> str:
    """The sentence saying which columns are rates rather than medians."""
    rates = [m.label for m in shown if m.aggregate == "rate"]
    return f"Medians over objects; {', '.join(rates)}: share of objects." if rates else "Medians over objects."


def mean_spread(values, fmt: str = "{:.4g}") -> str:
    """'mean ± std' over seeds (just the value for one seed); `fmt` formats the mean."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return "n/a"
    return fmt.format(v.mean()) if len(v) == 1 else f"{fmt.format(v.mean())} ± {v.std(ddof=1):.2g}"


def markdown(columns: list[str], rows: list[dict]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "nan" if not np.isfinite(v) else f"{v:.4g}"
    return "" if v is None else str(v)


def write_result(
    cfg,
    experiment: str,
    title: str,
    notes: str,
    columns: list[str],
    rows: list[dict],
    extra: dict | None = None,
    seeds: tuple[str, list] | None = None,
) -> str:
    """Write experiments/<experiment>/table.md and table.json; return the Markdown. `seeds`: (the name of the
    seeds the experiment repeats over, their values); None: the run's own `seed` alone."""
    d = paths_of(cfg).experiment(experiment)
    seed_name, seed_values = seeds or ("seed", [cfg.seed])
    repeated = f"{seed_name}={list(seed_values)}" if seeds else f"seed={cfg.seed}"
    text = f"## {title}\n\npreset={cfg.preset}, {repeated}, base run `{cfg.name}`. {notes} {INPUTS}\n\n" + markdown(
        columns, rows
    )
    atomic_write(d / "table.md", lambda p: p.write_text(text))
    save_json(
        d / "table.json",
        dict(
            title=title,
            preset=cfg.preset,
            seed_name=seed_name,
            seeds=list(seed_values),
            columns=columns,
            rows=rows,
            **(extra or {}),
        ),
    )
    print("\n" + text)
    return text


def save_figure(fig, path) -> None:
    atomic_write(path, lambda p: fig.savefig(p, dpi=90, format="png", bbox_inches="tight"))
    pyplot.close(fig)
