"""80_train_shape_sirens: per object, the field predicted from its hypernetwork alone by the selected route
(routes/<mapper.route>.py), then refined so that its soft silhouettes match the object's own 24 masks and its
zero set passes through the points of 03's depth maps; the refinement is kept only where the views agree
better. The refinement optimises the field's parameters through the route's field (a shape-SIREN's weights
for the routes that predict one). No SDF of the object is used here."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import routes
from ..config import readout_seed
from ..paths import SCRIPTS
from ..provenance import object_config
from ..render import camera_rays, sphere_interval
from ..routes.base import Field
from ..runtime import Numerics, Stage, generator, numerics_of, save_torch
from ..training import fit_flat
from .common import evaluated, load_views

HARD_TEMPERATURE = 1e-6
"""field_silhouette at this temperature is the hard silhouette: sigmoid(-min f / T) > 0.5 exactly where min f < 0."""
PROB_CLAMP = 1e-6
"""Occupancies are clamped to [PROB_CLAMP, 1 - PROB_CLAMP] in the BCE, so a saturated ray gives a finite loss."""


def view_rays(views: dict) -> tuple[torch.Tensor, ...]:
    """All rays of all views, flattened: origins, dirs, t_near, t_far, mask, and t_hit, the ray parameter
    of the surface point 03's depth map gives (0 where the ray hits nothing)."""
    o, d = camera_rays(views["K"], views["cam_to_world"], views["resolution"])
    o, d = torch.from_numpy(o).reshape(-1, 3), torch.from_numpy(d).reshape(-1, 3)
    near, far = sphere_interval(o, d, 1.0)
    # depth is measured along the camera's -Z axis: t = depth / cos(ray, axis)
    axis = -torch.from_numpy(np.asarray(views["cam_to_world"])[:, :3, 2]).float()
    per_view = len(o) // len(axis)
    cos = (d * axis.repeat_interleave(per_view, 0)).sum(-1)
    return o, d, near, far, views["mask"].reshape(-1), views["depth"].reshape(-1) / cos


def ray_points(o, d, near, far, samples: int, gen=None) -> tuple[torch.Tensor, torch.Tensor]:
    """`samples` stratified points per ray in [near, far] (random offsets drawn from `gen`, or the
    midpoints without it): ray parameters [R, S] and points [R, S, 3]."""
    u = (
        torch.arange(samples, device=o.device)
        + (torch.rand(len(o), samples, generator=gen).to(o.device) if gen is not None else 0.5)
    ) / samples
    t = near[:, None] + (far - near)[:, None] * u
    return t, o[:, None] + t[..., None] * d[:, None]


def field_silhouette(field, o, d, near, far, samples: int, temperature: float, gen=None) -> torch.Tensor:
    """Occupancy of each ray under a signed distance field (points [N, 3] -> values, N or [N, 1]):
    sigmoid(−min_t f(o + t d) / T) over ray_points. The hard silhouette is where the minimum is negative."""
    _, pts = ray_points(o, d, near, far, samples, gen)
    f = field(pts.reshape(-1, 3)).reshape(len(o), samples)
    return torch.sigmoid(-f.min(dim=1).values / temperature)


def view_agreement(field: Field, params, rays, samples: int, max_rays: int, chunk: int | None = None) -> dict:
    """How well a field agrees with the object's own views, on at most `max_rays` rays evenly spaced over
    all of them: the IoU of its hard silhouettes (minimum of f along the ray < 0) with the masks, and the
    median |f| at the surface points the depth maps give (0 for a field whose zero set passes through them)."""
    o, d, near, far, mask, t_hit = rays
    idx = torch.linspace(0, len(o) - 1, min(len(o), max_rays)).long()
    dev = params.device
    o, d, near, far, t_hit = (x[idx].to(dev) for x in (o, d, near, far, t_hit))

    def f(x):
        return field.evaluate(params, x, chunk)

    occ = field_silhouette(f, o, d, near, far, samples, HARD_TEMPERATURE) > 0.5
    hit = t_hit > 0
    surf = f(o[hit] + t_hit[hit, None] * d[hit])[:, 0].abs()
    m = mask[idx].to(dev) > 0.5
    union = (occ | m).sum()
    return dict(
        silhouette_iou=float((occ & m).sum() / union) if union else 1.0,
        depth_error=float(surf.median()) if len(surf) else 0.0,
    )


def refine(field: Field, params0: torch.Tensor, rays, r, gen, numerics: Numerics) -> tuple[torch.Tensor, list[float]]:
    """Adam on the field's parameters: the silhouette BCE against the masks; with r.depth_weight, |f| at the
    depth maps' surface points and max(0, −f) at ray samples in front of them (free space: carves what no
    silhouette shows); with r.eikonal_weight, (|∇f| − 1)² at the ray samples (keeps the field a distance
    field); and a pull towards the starting parameters, in units of field.scale."""
    o, d, near, far, mask, t_hit = (t.to(params0.device) for t in rays)
    scale = field.scale(params0)

    def loss(f, step):
        idx = torch.randint(len(o), (r.rays,), generator=gen).to(o.device)
        t, pts = ray_points(o[idx], d[idx], near[idx], far[idx], r.samples_per_ray, gen)
        pts = pts.reshape(-1, 3).requires_grad_(r.eikonal_weight > 0)
        values = field.sdf(f[0], pts)[:, 0]
        occ = torch.sigmoid(-values.reshape(len(idx), -1).min(dim=1).values / r.temperature)
        total = F.binary_cross_entropy(occ.clamp(PROB_CLAMP, 1 - PROB_CLAMP), mask[idx])
        if r.depth_weight > 0:
            th = t_hit[idx]
            hit = th > 0
            surface = field.sdf(f[0], o[idx][hit] + th[hit, None] * d[idx][hit])[:, 0]
            free = (t < (th - r.free_margin)[:, None]) & hit[:, None]  # in front of the observed surface
            carve = torch.relu(-values.reshape(len(idx), -1))[free]
            total = total + r.depth_weight * (surface.abs().mean() + (carve.mean() if len(carve) else 0.0))
        if r.eikonal_weight > 0:
            (grad,) = torch.autograd.grad(values.sum(), pts, create_graph=True)
            total = total + r.eikonal_weight * ((grad.norm(dim=-1) - 1) ** 2).mean()
        return total + r.weight_reg * (((f[0] - params0) / scale) ** 2).mean()

    params, curve = fit_flat(params0[None], loss, r.steps, r.lr, "refine", numerics=numerics)
    return params[0], curve


def accepted(before: dict, after: dict, depth_slack: float | None) -> bool:
    """Whether a refinement agrees better with the object's own views: silhouette IoU no lower and, when
    refinement reads the depth maps (depth_slack not None), depth error no more than depth_slack higher
    (a median over rays moves by a few 1e-5 when nothing changed); strictly better in one of the two."""
    iou = after["silhouette_iou"] - before["silhouette_iou"]
    if depth_slack is None:
        return iou > 0
    depth = before["depth_error"] - after["depth_error"]
    return iou >= 0 and depth >= -depth_slack and (iou > 0 or depth > 0)


def refine_if_better(
    cfg, field: Field, pred: torch.Tensor, rays, gen, numerics: Numerics
) -> tuple[torch.Tensor, dict, list[float]]:
    """The refined parameters (the prediction itself where refining did not make the views agree better,
    or shape_siren.refine.steps is 0), what 80 records about the refinement, and its loss curve."""
    r, chunk = cfg.shape_siren.refine, cfg.device.eval_chunk
    refined, curve = refine(field, pred, rays, r, gen, numerics) if r.steps > 0 else (pred, [float("nan")])
    before = view_agreement(field, pred, rays, r.samples_per_ray, r.eval_rays, chunk)
    after = view_agreement(field, refined, rays, r.samples_per_ray, r.eval_rays, chunk) if r.steps > 0 else before
    slack = r.depth_slack if r.depth_weight > 0 else None
    keep = r.steps > 0 and (not r.accept_if_better or accepted(before, after, slack))
    if not keep:  # refined is what 90 scores: the prediction, where refining did not help the views
        refined, after = pred, before
    return (
        refined,
        dict(
            refine_loss_first=curve[0],
            refine_loss_last=curve[-1],
            refine_accepted=keep,
            silhouette_iou_predicted=before["silhouette_iou"],
            silhouette_iou_refined=after["silhouette_iou"],
            depth_error_predicted=before["depth_error"],
            depth_error_refined=after["depth_error"],
        ),
        curve,
    )


def run(cfg) -> dict:
    stage = Stage(cfg, "80_shape_sirens")
    p, num = stage.paths, numerics_of(cfg)
    dev = num.device
    route = routes.get(cfg.mapper.route)
    stage.wait_for("the mapper", lambda: stage.unrecorded("70_mapper", [], ("mapper",)), SCRIPTS["70_mapper"])
    predictor, field = route.predictor(cfg, p, dev), route.field(cfg, p, dev)
    saved = dict(field.describe(), route=route.name, config=object_config(cfg, stage.name)["refine"])

    def work(objs):
        (o,) = objs
        rays = view_rays(load_views(p.views(o.id)))
        pred, how = predictor.predict(o.id)
        gen = generator(readout_seed(cfg), "80", o.id)
        refined, refinement, curve = refine_if_better(cfg, field, pred, rays, gen, num)
        if cfg.shape_siren.refine.steps > 0:
            stage.keep_curve(o.id, "refine", curve)
        info = dict(how, split=o.split, **refinement)
        save_torch(p.shape_sirens(o.id), dict(predicted=pred.cpu(), refined=refined.cpu(), **saved, **info))
        return {o.id: info}

    objects = evaluated(cfg, stage.objects())  # eval_splits: e.g. the test objects alone
    stage.run_objects(objects, outputs=lambda o: [p.shape_sirens(o.id)], work=work)
    log_views(stage, route, [stage.manifest.get(o.id) for o in objects if stage.manifest.is_done(o.id)])
    return stage.finish()


def log_views(stage: Stage, route, done: list[dict]) -> None:
    """How the objects' fields agree with their views, predicted and refined, and what the route says."""
    if not done:
        return
    stage.log.info(
        "median silhouette IoU: predicted %.3f, refined %.3f; depth error %.4f -> %.4f; refinement kept "
        "for %d of %d objects",
        np.median([e["silhouette_iou_predicted"] for e in done]),
        np.median([e["silhouette_iou_refined"] for e in done]),
        np.median([e["depth_error_predicted"] for e in done]),
        np.median([e["depth_error_refined"] for e in done]),
        sum(bool(e["refine_accepted"]) for e in done),
        len(done),
    )
    said = route.summary(done)
    if said:
        stage.log.info("%s", said)
