"""Experiment 3: target shape-SIRENs warm-started from one shared anchor against each started from its
own random init: weight-space concentration, autoencoder quality on the test split, interpolation."""

from __future__ import annotations

from ..metrics import headline
from ..paths import paths_of
from ..pipeline import run_all
from ..runtime import load_json
from .common import run_from, summary_rows, variant, write_result
from .interpolation import interpolate_pairs


def run(cfg) -> str:
    shared = variant(cfg, None, **{"mapper.route": "latent", "weight_ae.shared_anchor": True})
    own = variant(cfg, "own-init", **{"mapper.route": "latent", "weight_ae.shared_anchor": False})
    run_all(shared)
    run_from(own, "60_weight_ae")
    fscore = headline(cfg.reconstruct.taus)
    table = []
    for label, c in (("shared anchor", shared), ("own random init", own)):
        diag = load_json(paths_of(c).ae_diagnostics)
        _, interp = interpolate_pairs(c, modes=("latent", "weights"), strips=False)
        by_mode = {r["mode"]: r for r in interp}
        pred = {(r["split"], r["kind"]): r for r in summary_rows(c)}
        table.append(
            {
                "targets": label,
                "cosine raw": diag["mean_pairwise_cosine_raw"],
                "cosine residual": diag["mean_pairwise_cosine_residual"],
                "target surf.err": diag["train_median_target_surface_error"],
                "AE surf.err train": diag["train_median_ae_surface_error"],
                "AE surf.err test": diag["test_median_ae_surface_error"],
                "AE weight MSE test": diag["test_median_ae_weight_mse"],
                f"predicted {fscore.label} test": (
                    pred[("test", "predicted")][fscore.summary_key] if ("test", "predicted") in pred else None
                ),
                "valid (latent interp.)": by_mode["latent"]["valid share"],
                "valid (weight interp.)": by_mode["weights"]["valid share"],
                "jump ratio (weight interp.)": by_mode["weights"]["median jump ratio"],
            }
        )
    return write_result(
        cfg,
        "anchor",
        "Experiment 3: shared anchor vs own random init",
        "Cosines are means over all pairs of target shape-SIRENs (train and test), of the raw "
        "weights and of their residual from the shared anchor. Surface errors are medians of "
        "mean |f| on ground-truth surface points; AE = decode(encode(target)). Interpolation "
        f"validity over {cfg.experiment.interpolation.pairs} pairs × {cfg.experiment.interpolation.steps} steps, "
        "as in experiment 4.",
        list(table[0].keys()),
        table,
    )
