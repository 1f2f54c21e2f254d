"""The metric registry: every per-object metric 90 scores, with how it is labelled, aggregated over objects,
formatted and read. 90's rows, CSV and summary table, report.py and every experiment table take their
metrics from here, so adding a metric is one `register(Metric(...))`.

A metric with `compute` is computed by 90 from a `Scored` (the field, its mesh, the ground truth and what
`mesh_metrics` measured); one without is measured by `geometry.metrics.mesh_metrics` itself (Chamfer,
F-score, normal consistency and topology share its two KD-trees). A metric with `per_tau` is one column per
`reconstruct.taus` entry (the F-score)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from .geometry.metrics import fscore_key, surface_error, touches_domain, volumetric_iou
from .geometry.topology import genus_match

AGGREGATES = {"median": np.median, "rate": np.mean}
"""How a metric is summed up over objects: the median, or (booleans) the share of objects where it holds."""


@dataclass(frozen=True)
class Scored:
    """What a metric's `compute` reads for one field: the field f (points [n,3] float32 -> [n]), its mesh,
    the ground truth (`stages.reconstruct.truth_of`), the reconstruct config and mesh_metrics' results."""

    field: Callable
    mesh: Any
    truth: dict
    rc: Any
    measured: dict


@dataclass(frozen=True)
class Metric:
    key: str
    """Name in per-object rows, metrics.csv and summary.json (`median_<key>` / `mean_<key>`)."""
    label: str
    """Column label in tables (90's summary and the experiments)."""
    aggregate: str = "median"
    """Over objects: "median", or "rate" for a boolean (the share of objects where it holds)."""
    fmt: str = "{:.3f}"
    """How 90's summary table prints its aggregate."""
    better: str = "higher"
    """Which way is better: "higher" or "lower"."""
    compute: Callable[[Scored], Any] | None = None
    """Computes the metric of one field; None: measured by geometry.metrics.mesh_metrics."""
    in_summary: bool = True
    """Shown as a column of 90's summary table (it is in the CSV and summary.json either way)."""
    compared: bool = True
    """Shown in the experiment tables that compare methods (routes, baseline, ood)."""
    per_tau: bool = False
    """One metric per reconstruct.taus entry: key `<key>_<tau>`, label `<label>@<tau>`."""
    tau: float | None = None
    """The threshold of one column of a per_tau metric."""

    @property
    def summary_key(self) -> str:
        """Its aggregate's name in summary.json: median_<key>, or mean_<key> for a rate."""
        return f"{'median' if self.aggregate == 'median' else 'mean'}_{self.key}"

    def over(self, values) -> float:
        """Its aggregate over objects' values."""
        return float(AGGREGATES[self.aggregate]([float(v) for v in values]))

    def at(self, tau: float) -> Metric:
        """The column of a per_tau metric at one threshold."""
        key = fscore_key(tau) if self.key == "fscore" else f"{self.key}_{float(tau)}"
        return replace(self, key=key, label=f"{self.label}@{tau:g}", per_tau=False, tau=float(tau))


_REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add a metric (last in every table); a key already registered is an error."""
    if metric.key in _REGISTRY:
        raise ValueError(f"metric {metric.key!r} is already registered")
    _REGISTRY[metric.key] = metric
    return metric


def unregister(key: str) -> None:
    """Remove a registered metric (tests that register their own)."""
    del _REGISTRY[key]


def metrics(taus) -> list[Metric]:
    """Every metric in registry order, per_tau ones expanded over `taus`."""
    out = []
    for m in _REGISTRY.values():
        out += [m.at(t) for t in taus] if m.per_tau else [m]
    return out


def select(taus, *keys: str) -> list[Metric]:
    """The metrics of these registry keys, in the order given (a per_tau key gives one per tau)."""
    return [m for k in keys for m in ([_REGISTRY[k].at(t) for t in taus] if _REGISTRY[k].per_tau else [_REGISTRY[k]])]


def headline(taus) -> Metric:
    """The one F-score quoted where a single number is read (curves, verdicts): at the largest tau."""
    return _REGISTRY["fscore"].at(max(taus))


def summary_metrics(taus) -> list[Metric]:
    """The columns of 90's summary table."""
    return [m for m in metrics(taus) if m.in_summary]


def compared_metrics(taus) -> list[Metric]:
    """The columns of the experiment tables that compare methods."""
    return [m for m in metrics(taus) if m.compared]


def compute(scored: Scored) -> dict:
    """Every computed metric (those mesh_metrics does not give) of one field, in registry order."""
    return {m.key: m.compute(scored) for m in metrics(scored.rc.taus) if m.compute is not None}


for _m in (
    Metric("chamfer_l1", "CD-L1", fmt="{:.4f}", better="lower"),
    Metric("chamfer_l2", "CD-L2", fmt="{:.5f}", better="lower", compared=False),
    Metric("fscore", "F", per_tau=True),
    Metric("normal_consistency", "NC"),
    Metric("iou", "IoU", compute=lambda s: volumetric_iou(s.truth["inside"], s.field(s.truth["iou_points"]) < 0)),
    Metric(
        "surface_error",
        "surf.err",
        fmt="{:.4f}",
        better="lower",
        compared=False,
        compute=lambda s: surface_error(s.field, s.truth["surface"]),
    ),
    Metric(
        "touches_domain",
        "at domain",
        better="lower",
        compared=False,
        compute=lambda s: touches_domain(s.mesh, s.rc.domain_radius),
    ),
    Metric(
        "genus_match",
        "genus ok",
        aggregate="rate",
        fmt="{:.0%}",
        compute=lambda s: genus_match(s.measured["genus"], s.truth["genus"]),
    ),
    Metric("closed_manifold", "closed", aggregate="rate", fmt="{:.0%}", compared=False),
    Metric("components", "components (all)", better="lower", in_summary=False, compared=False),
    Metric("components_filtered", "components", better="lower", in_summary=False, compared=False),
    Metric("empty", "empty", aggregate="rate", fmt="{:.0%}", better="lower", compared=False),
):
    register(_m)
