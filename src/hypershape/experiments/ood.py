"""Experiment 6: objects of a kind absent from training (by default every genus-2 solid) held out from
the autoencoder and the mapper, then taken through every stage with the trained models."""

from __future__ import annotations

from ..pipeline import run_all
from .common import summary_rows, variant, write_result

METRICS = (
    "median_chamfer_l1",
    "median_fscore_0.01",
    "median_fscore_0.02",
    "median_normal_consistency",
    "median_iou",
    "mean_genus_match",
)


def run(cfg) -> str:
    genus = list(cfg.experiment.ood_genus)
    c = variant(cfg, "ood-genus" + "-".join(map(str, genus)), **{"data.test_genus": genus})
    run_all(c)
    rows = [
        {
            "split": "test (held-out genus)" if r["split"] == "test" else "train",
            "SIREN": r["kind"],
            "n": r["n"],
            **{k.replace("median_", "").replace("mean_", ""): r[k] for k in METRICS},
        }
        for r in summary_rows(c)
    ]
    return write_result(
        cfg,
        "ood",
        f"Experiment 6: out of distribution (genus {genus} never trained)",
        f"Run `{c.name}`: train split = every object whose genus is not in {genus}; test split = "
        "all objects of those genera. Medians; genus_match is a share.",
        ["split", "SIREN", "n", *[k.replace("median_", "").replace("mean_", "") for k in METRICS]],
        rows,
    )
