"""The outlines' ceiling: each object's ground truth rendered by 03's cameras at several view resolutions,
its visual hull carved from those true pictures as route probe carves the views a hypernetwork draws
(at mapper.probe.threshold), scored as 90 scores a field (marched on its grid, reconstruct.resolution).
What outlines alone can place, from these cameras at each resolution: at render.resolution, the ceiling of
route probe's hull; for any route that reads the views, the mark above which it reads more than outlines.
Runs 01 and 02 only."""

from __future__ import annotations

import numpy as np
import torch
import trimesh
from omegaconf import OmegaConf

from ..geometry.carve import hull_field
from ..metrics import compared_metrics
from ..objects import load_objects
from ..paths import paths_of
from ..readout.probe import mesh_brightness, probe_cameras
from ..render import view_count
from ..runtime import rng
from ..stages.reconstruct import ground_truth, score_field
from .common import rates_note, run_from, write_result


def true_outline_hull(mesh: trimesh.Trimesh, render, resolution: int, threshold: float):
    """The visual hull's field (numpy points [n, 3] -> [n], negative inside) of `mesh` rendered as 03
    renders (cfg.render) at resolution × resolution pixels, the views' brightness thresholded as route probe
    thresholds the views a hypernetwork draws (geometry/carve.hull_field)."""
    at = OmegaConf.merge(render, {"resolution": resolution})
    images = mesh_brightness(mesh, at).float()
    _, poses = probe_cameras(render)

    def f(points: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(points, dtype=np.float32))
        return hull_field(images, poses, render.yfov_deg, threshold, x).numpy()

    return f


def outline_rows(cfg, ids: dict[str, str], resolutions) -> list[dict]:
    """One row per object of `ids` ({id: split}) and resolution: the metrics of true_outline_hull against the
    object's ground truth, with 90's draws (the same as its rows of that object)."""
    p, rc, threshold = paths_of(cfg), cfg.reconstruct, cfg.mapper.probe.threshold
    rows = []
    for o in sorted(ids):
        for res in resolutions:
            gen = rng(cfg.seed, "90", o)
            truth = ground_truth(p, o, rc, gen)
            m, _ = score_field(true_outline_hull(truth["mesh"], cfg.render, res, threshold), truth, rc, gen)
            rows.append(dict(id=o, split=ids[o], resolution=res, **m))
    return rows


def run(cfg) -> str:
    e = cfg.experiment.outlines
    run_from(cfg, "01_download", "02_watertight")
    p = paths_of(cfg)
    ids = {o.id: o.split.value for o in load_objects(p.objects) if o.split.value == e.split and p.solid(o.id).exists()}
    if not ids:
        raise ValueError(f"experiment.outlines.split={e.split!r}: no object of that split has 02's solid")
    rows = outline_rows(cfg, ids, list(e.resolutions))
    shown = compared_metrics(cfg.reconstruct.taus)
    table = [
        {
            "views": f"{res} px",
            "n": len(sel),
            **{m.label: m.over(r[m.key] for r in sel) for m in shown},
        }
        for res in e.resolutions
        for sel in [[r for r in rows if r["resolution"] == res]]
    ]
    return write_result(
        cfg,
        "outlines",
        "The visual hull of the true outlines",
        f"Split {e.split}: each object's ground truth rendered by 03's {view_count(cfg.render)} "
        f"cameras at each resolution (render.resolution is {cfg.render.resolution}), its visual hull carved "
        f"from those pictures at brightness {cfg.mapper.probe.threshold} (mapper.probe.threshold), scored as 90 "
        f"scores. No hypernetwork and nothing learnt: what outlines alone place from these cameras. "
        f"{rates_note(shown)}",
        ["views", "n", *(m.label for m in shown)],
        table,
        extra={"objects": rows},
    )
