"""80_train_shape_sirens: per object, the shape-SIREN predicted from its images alone (hypernetwork →
mapper [→ decoder]), then refined so that its soft silhouettes match the object's own 24 masks. No SDF
of the object is used here."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..config import readout_seed
from ..nets.predictor import ShapePredictor
from ..nets.siren import siren_forward
from ..nets.standardise import per_element, tensor_rms
from ..paths import SCRIPTS
from ..provenance import object_config
from ..render import camera_rays, sphere_interval
from ..runtime import Stage, device_of, generator, save_torch
from ..training import fit_flat
from .common import evaluated, load_views, shape_spec

HARD_TEMPERATURE = 1e-6
"""soft_silhouette at this temperature is the hard silhouette: sigmoid(-min f / T) > 0.5 exactly where min f < 0."""
PROB_CLAMP = 1e-6
"""Occupancies are clamped to [PROB_CLAMP, 1 - PROB_CLAMP] in the BCE, so a saturated ray gives a finite loss."""


def view_rays(views: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """All rays of all views, flattened: origins, dirs, t_near, t_far, mask."""
    o, d = camera_rays(views["K"], views["cam_to_world"], views["resolution"])
    o, d = torch.from_numpy(o).reshape(-1, 3), torch.from_numpy(d).reshape(-1, 3)
    near, far = sphere_interval(o, d, 1.0)
    return o, d, near, far, views["mask"].reshape(-1)


def soft_silhouette(spec, flat, o, d, near, far, samples: int, temperature: float, gen=None) -> torch.Tensor:
    """Occupancy of each ray under a shape-SIREN's field (see field_silhouette). Differentiable in the weights."""
    return field_silhouette(lambda x: siren_forward(spec, flat, x), o, d, near, far, samples, temperature, gen)


def field_silhouette(field, o, d, near, far, samples: int, temperature: float, gen=None) -> torch.Tensor:
    """Occupancy of each ray under a signed distance field (points [N, 3] -> values, N or [N, 1]):
    sigmoid(−min_t f(o + t d) / T) over `samples` stratified points in [near, far] (random offsets drawn
    from `gen`, or the midpoints without it). The hard silhouette is where the minimum is negative."""
    u = (
        torch.arange(samples, device=o.device)
        + (torch.rand(len(o), samples, generator=gen).to(o.device) if gen is not None else 0.5)
    ) / samples
    t = near[:, None] + (far - near)[:, None] * u
    pts = o[:, None] + t[..., None] * d[:, None]
    f = field(pts.reshape(-1, 3)).reshape(len(o), samples)
    return torch.sigmoid(-f.min(dim=1).values / temperature)


def silhouette_iou(spec, flat, rays, samples: int, max_rays: int) -> float:
    """IoU of the hard silhouettes (minimum of f along the ray < 0) against the masks, on at most
    `max_rays` rays evenly spaced over all views."""
    o, d, near, far, mask = rays
    idx = torch.linspace(0, len(o) - 1, min(len(o), max_rays)).long()
    with torch.no_grad():
        occ = soft_silhouette(spec, flat, o[idx], d[idx], near[idx], far[idx], samples, HARD_TEMPERATURE) > 0.5
    m = mask[idx].to(occ.device) > 0.5
    union = (occ | m).sum()
    return float((occ & m).sum() / union) if union else 1.0


def refine(spec, flat0: torch.Tensor, rays, r, gen) -> tuple[torch.Tensor, list[float]]:
    """Adam on the silhouette BCE against the masks, with a pull towards the starting weights."""
    o, d, near, far, mask = (t.to(flat0.device) for t in rays)
    scale = per_element(tensor_rms(flat0, spec.sizes), spec.sizes)

    def loss(f, step):
        idx = torch.randint(len(o), (r.rays,), generator=gen).to(o.device)
        occ = soft_silhouette(spec, f[0], o[idx], d[idx], near[idx], far[idx], r.samples_per_ray, r.temperature, gen)
        bce = F.binary_cross_entropy(occ.clamp(PROB_CLAMP, 1 - PROB_CLAMP), mask[idx])
        return bce + r.weight_reg * (((f[0] - flat0) / scale) ** 2).mean()

    flat, curve = fit_flat(flat0[None], loss, r.steps, r.lr, "refine")
    return flat[0], curve


def run(cfg) -> dict:
    # 60 too: the latent route decodes with 60's autoencoder, and every route starts from its anchor
    stage = Stage(cfg, "80_shape_sirens", upstream=("70_mapper", "60_weight_ae", "03_render_views"))
    p, r = stage.paths, cfg.shape_siren.refine
    dev = device_of(cfg)
    spec = shape_spec(cfg)
    stage.wait_for("the mapper", lambda: stage.unrecorded("70_mapper", [], ("mapper",)), SCRIPTS["70_mapper"])
    predictor = ShapePredictor(cfg, p, dev)
    conf = object_config(cfg, stage.name)["refine"]

    def work(objs):
        (o,) = objs
        rays = view_rays(load_views(p.views(o["id"])))
        pred = predictor(o["id"])
        refined, curve = (
            refine(spec, pred, rays, r, generator(readout_seed(cfg), "80", o["id"]))
            if r.steps > 0
            else (pred, [float("nan")])
        )
        info = dict(
            split=o["split"],
            refine_loss_first=curve[0],
            refine_loss_last=curve[-1],
            silhouette_iou_predicted=silhouette_iou(spec, pred, rays, r.samples_per_ray, r.eval_rays),
            silhouette_iou_refined=silhouette_iou(spec, refined, rays, r.samples_per_ray, r.eval_rays),
        )
        save_torch(
            p.shape_sirens(o["id"]),
            dict(
                predicted=pred.cpu(),
                refined=refined.cpu(),
                spec=spec,
                route=cfg.mapper.route.value,
                config=conf,
                **info,
            ),
        )
        return {o["id"]: info}

    objects = evaluated(cfg, stage.objects())  # eval_splits: e.g. the test objects alone
    stage.run_objects(objects, outputs=lambda o: [p.shape_sirens(o["id"])], work=work)
    done = [stage.manifest.get(o["id"]) for o in objects if stage.manifest.is_done(o["id"])]
    if done:
        stage.log.info(
            "median silhouette IoU: predicted %.3f, refined %.3f",
            np.median([e["silhouette_iou_predicted"] for e in done]),
            np.median([e["silhouette_iou_refined"] for e in done]),
        )
    return stage.finish()
