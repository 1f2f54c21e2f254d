"""What 80's refinement from the pictures does to the truth: each object's 60 target (the shape-SIREN fitted to
its true SDF, as close to the object as a shape-SIREN gets) refined against the object's own 24 pictures as
80 refines a prediction (shape_siren.refine, 03's depth maps never read), every refinement kept, both scored
as 90 scores a field. A refinement whose loss and optimiser are right leaves the truth where it is; where it
moves it, what it does to a prediction is not the prediction's fault. Runs 01, 02, 03 and 60 only."""

from __future__ import annotations

import numpy as np
import trimesh
from tqdm import tqdm

from ..config import readout_seed
from ..geometry.sdf import sample_surface, signed_distance
from ..metrics import compared_metrics
from ..objects import load_objects
from ..paths import paths_of
from ..render import view_count
from ..routes.base import SirenField
from ..runtime import generator, load_torch, numerics_of, rng
from ..shading import brightness_model, ray_shading
from ..stages.common import load_views, shape_spec
from ..stages.reconstruct import ground_truth, score_field
from ..stages.shape_sirens import refine, view_agreement, view_rays
from .common import rates_note, run_from, write_result

OFFSET_POINTS = 10000
"""Points sampled on a refined surface to measure how far it lies outside the true one."""


def outward(mesh: trimesh.Trimesh, solid: trimesh.Trimesh, gen: np.random.Generator) -> float:
    """Mean signed distance to `solid`'s surface (positive outside) of points spread evenly over `mesh`: how
    far `mesh` lies outside the truth as a whole (nan for an empty mesh)."""
    if len(mesh.faces) == 0:
        return float("nan")
    return float(signed_distance(solid, sample_surface(mesh, OFFSET_POINTS, gen)[0]).mean())


def refined_truth_rows(cfg, ids: dict[str, str]) -> list[dict]:
    """One row per object of `ids` ({id: split}): the views' agreement, the headline metrics and how far
    outside the truth the surface lies, of its 60 target before and after 80's refinement from the pictures."""
    p, rc, r, num = paths_of(cfg), cfg.reconstruct, cfg.shape_siren.refine, numerics_of(cfg)
    field, chunk = SirenField(shape_spec(cfg)), cfg.device.eval_chunk
    model = brightness_model(cfg.render) if r.shading_weight > 0 else None
    rows = []
    for o in tqdm(sorted(ids), desc="refinement from the truth", unit="obj", dynamic_ncols=True):
        pictures = {k: v for k, v in load_views(p.views(o)).items() if k != "depth"}
        rays, shading = view_rays(pictures), ray_shading(pictures, model, r.shading_margin) if model else None
        target = load_torch(p.target(o))["flat"].to(num.device)
        refined = refine(field, target, rays, r, generator(readout_seed(cfg), "80", o), num, shading)[0]
        row, gen = dict(id=o, split=ids[o]), rng(cfg.seed, "90", o)
        truth = ground_truth(p, o, rc, gen)
        drawn = gen.bit_generator.state  # both on 90's draws for the target
        for kind, params in (("target", target), ("refined", refined)):
            gen.bit_generator.state = drawn
            m, mesh = score_field(field.numpy(params, num.device, chunk), truth, rc, gen)
            agree = view_agreement(field, params, rays, r.samples_per_ray, r.eval_rays, chunk, shading, r.least_rounds)
            row[kind] = dict(m, outward=outward(mesh, truth["mesh"], rng(cfg.seed, "outward", o)), **agree)
        rows.append(row)
    return rows


def run(cfg) -> str:
    e = cfg.experiment.refinement
    run_from(cfg, "01_download", "03_render_views")
    run_from(cfg, "60_weight_ae", "60_weight_ae")
    p = paths_of(cfg)
    ids = {o.id: o.split.value for o in load_objects(p.objects) if o.split.value == e.split and p.target(o.id).exists()}
    if not ids:
        raise ValueError(f"experiment.refinement.split={e.split!r}: no object of that split has 60's target")
    rows = refined_truth_rows(cfg, ids)
    shown = compared_metrics(cfg.reconstruct.taus)
    table = [
        {
            "field": kind,
            "n": len(rows),
            **{m.label: m.over(r[kind][m.key] for r in rows) for m in shown},
            "outward": float(np.nanmedian([r[kind]["outward"] for r in rows])),
            "silhouette IoU": float(np.median([r[kind]["silhouette_iou"] for r in rows])),
        }
        for kind in ("target", "refined")
    ]
    r = cfg.shape_siren.refine
    return write_result(
        cfg,
        "refinement",
        "80's refinement from the pictures, started from the truth",
        f"Split {e.split}: each object's 60 target refined against its own {view_count(cfg.render)} pictures as 80 "
        f"refines a prediction (outline_loss {r.outline_loss}, {r.steps} steps of {r.rays} rays at lr {r.lr}, "
        f"least_rounds {r.least_rounds}, shading_weight {r.shading_weight}, shading_margin {r.shading_margin}), "
        f"every refinement kept. outward: median over objects of the mean signed distance "
        f"of the surface to the true one (positive outside); silhouette IoU: 80's measure of how well the views "
        f"agree. {rates_note(shown)}",
        ["field", "n", *(m.label for m in shown), "outward", "silhouette IoU"],
        table,
        extra={"objects": rows},
    )
