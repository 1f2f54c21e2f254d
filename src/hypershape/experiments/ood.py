"""Experiment 6: objects of a kind absent from training (by default every genus-2 solid) held out from
the autoencoder and the mapper, then taken through every stage with the trained models."""

from __future__ import annotations

from ..metrics import compared_metrics
from ..objects import Subset
from ..pipeline import run_all
from ..stages.reconstruct import LABELS
from .common import rates_note, summary_rows, variant, write_result


def run(cfg) -> str:
    genus = list(cfg.experiment.ood.genus)
    c = variant(cfg, "ood-genus" + "-".join(map(str, genus)), **{"data.test_genus": genus})
    run_all(c)
    shown = compared_metrics(cfg.reconstruct.taus)
    rows = [
        {
            "split": "test (held-out genus)" if r["split"] == Subset.test else "train",
            "SIREN": LABELS[r["kind"]],
            "n": r["n"],
            **{m.label: r[m.summary_key] for m in shown},
        }
        for r in summary_rows(c)
    ]
    return write_result(
        cfg,
        "ood",
        f"Experiment 6: out of distribution (genus {genus} never trained)",
        f"Run `{c.name}`: train split = every object whose genus is not in {genus}; test split = "
        f"all objects of those genera. {rates_note(shown)}",
        ["split", "SIREN", "n", *(m.label for m in shown)],
        rows,
    )
