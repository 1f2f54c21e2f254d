"""Experiment 2: per-layer against monolithic heads wherever a network emits SIREN weights (the
hypernetwork, the autoencoder's decoder, the direct mapper): weight MSE beside genus match, per object."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..metrics import headline, select
from ..objects import Subset
from ..paths import paths_of
from ..pipeline import run_all
from ..records import Manifest
from ..runtime import load_torch
from .common import object_rows, run_from, save_figure, variant, write_result


def variants(cfg):
    """(label, emitter, heads, run config, first stage to rerun)."""
    return [
        (
            "hypernet per-layer / latent",
            "hypernet",
            "per_layer",
            variant(cfg, None, **{"mapper.route": "latent"}),
            None,
        ),
        (
            "hypernet monolithic / latent",
            "hypernet",
            "monolithic",
            variant(cfg, "hyper-mono", **{"hypernet.heads": "monolithic", "mapper.route": "latent"}),
            "50_hypernets",
        ),
        (
            "AE decoder monolithic / latent",
            "AE decoder",
            "monolithic",
            variant(cfg, "ae-mono", **{"weight_ae.heads": "monolithic", "mapper.route": "latent"}),
            "60_weight_ae",
        ),
        (
            "direct mapper per-layer",
            "direct mapper",
            "per_layer",
            variant(cfg, None, **{"mapper.route": "direct"}),
            "70_mapper",
        ),
        (
            "direct mapper monolithic",
            "direct mapper",
            "monolithic",
            variant(cfg, "direct-mono", **{"mapper.route": "direct", "mapper.heads": "monolithic"}),
            "70_mapper",
        ),
    ]


def per_object(c) -> list[dict]:
    """Weight MSE of the predicted shape-SIREN against the target, beside its mesh's genus match and its
    headline F-score (metrics.headline)."""
    fscore = headline(c.reconstruct.taus).key
    p = paths_of(c)
    hyper = Manifest(p.manifest("50_hypernets"), p.root)
    out = []
    for r in object_rows(c):
        if r["kind"] != "predicted":
            continue
        pred = load_torch(p.shape_sirens(r["id"]))["predicted"]
        target = load_torch(p.target(r["id"]))["flat"]
        h = hyper.get(r["id"]) or {}
        out.append(
            dict(
                id=r["id"],
                split=r["split"],
                gt_genus=r["gt_genus"],
                genus=r["genus"],
                genus_match=r["genus_match"],
                weight_mse=float(((pred - target) ** 2).mean()),
                fscore=r[fscore],
                hyper_weight_mse=h.get("weight_mse"),
                hyper_psnr=h.get("psnr_mean"),
            )
        )
    return out


def run(cfg) -> str:
    base = variant(cfg, None, **{"mapper.route": "latent"})
    run_all(base)
    genus, fscore = select(cfg.reconstruct.taus, "genus_match")[0], headline(cfg.reconstruct.taus)
    table, details = [], []
    for label, emitter, heads, c, start in variants(cfg):
        if start:
            run_from(c, start)
        rows = per_object(c)
        for r in rows:
            details.append(dict(variant=label, **r))
        for split in Subset:
            sel = [r for r in rows if r["split"] == split]
            topo = [r for r in sel if sum(g or 0 for g in r["gt_genus"] or []) >= 1]
            if not sel:
                continue
            table.append(
                {
                    "variant": label,
                    "emits": emitter,
                    "heads": heads,
                    "split": split,
                    "n": len(sel),
                    "shape weight MSE": float(np.median([r["weight_mse"] for r in sel])),
                    f"{genus.label} (all)": genus.over(r["genus_match"] for r in sel),
                    f"{genus.label} (genus≥1)": genus.over(r["genus_match"] for r in topo) if topo else None,
                    fscore.label: fscore.over(r["fscore"] for r in sel),
                    "hypernet weight MSE": float(np.median([r["hyper_weight_mse"] for r in sel])),
                    "hypernet PSNR": float(np.median([r["hyper_psnr"] for r in sel])),
                }
            )
    save_figure(figure(details), paths_of(cfg).experiment("heads") / "heads.png")
    return write_result(
        cfg,
        "heads",
        "Experiment 2: per-layer vs monolithic heads",
        "Predicted shape-SIRENs. 'shape weight MSE' is predicted vs target weights (median); "
        "genus ok is the share of objects whose predicted mesh has the ground truth's genus, "
        "over all objects and over those of genus ≥ 1; hypernet columns describe the "
        "image-SIRENs the hypernetwork emits. Per-object rows are in table.json.",
        [
            "variant",
            "split",
            "n",
            "shape weight MSE",
            f"{genus.label} (all)",
            f"{genus.label} (genus≥1)",
            fscore.label,
            "hypernet weight MSE",
            "hypernet PSNR",
        ],
        table,
        extra={"objects": details},
    )


def figure(details):
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = sorted({d["variant"] for d in details})
    for i, label in enumerate(labels):
        sel = [d for d in details if d["variant"] == label and sum(g or 0 for g in d["gt_genus"] or []) >= 1]
        x = [max(d["weight_mse"], 1e-12) for d in sel]
        y = [i + (0.15 if d["genus_match"] else -0.15) for d in sel]
        ax.scatter(x, y, c=["tab:green" if d["genus_match"] else "tab:red" for d in sel], s=18)
    ax.set_xscale("log")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("weight MSE, predicted vs target shape-SIREN (objects of genus ≥ 1)")
    ax.set_title("green: genus right, red: genus wrong", fontsize=9)
    fig.tight_layout()
    return fig
