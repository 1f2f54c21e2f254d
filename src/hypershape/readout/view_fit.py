"""Test-time fitting of an object's latent (the decoder frozen) to the outlines of the views its
hypernetwork draws: soft silhouettes along camera rays (stages/shape_sirens.py's), BCE against the drawn
outlines, a pull towards the starting latent. Kept only where the hard silhouettes agree better with the
outlines. Reads the object's hypernetwork alone: no 03 mask, no depth."""

from __future__ import annotations

import torch

from ..render import intrinsics
from ..routes.base import DecoderField
from ..stages.shape_sirens import accepted, outline_loss, ray_least, ray_values, view_agreement, view_rays
from ..training import train
from .probe import Prober


def drawn_rays(prober: Prober, obj_id: str, render, threshold: float) -> tuple[torch.Tensor, ...]:
    """view_rays of the probe cameras at render.resolution with the outlines the object's hypernetwork
    draws (brightness above `threshold`, readout/probe) as masks, and no depth (t_hit None)."""
    res = render.resolution
    outlines = (prober.images(obj_id, res).cpu() > threshold).float()
    views = dict(
        K=intrinsics(res, render.yfov_deg),
        cam_to_world=prober.poses.numpy(),
        resolution=res,
        mask=outlines,
    )
    return view_rays(views)


def silhouette_iou(field: DecoderField, z: torch.Tensor, rays, r) -> float:
    """view_agreement's silhouette IoU of the decoder's field at latent z with the rays' masks, on r.eval_rays
    rays after r.least_rounds of search (r = cfg.shape_siren.refine)."""
    return view_agreement(field, z, rays, r.samples_per_ray, r.eval_rays, rounds=r.least_rounds)["silhouette_iou"]


def fit_to_views(
    field: DecoderField, z0: torch.Tensor, rays, c, r, gen: torch.Generator
) -> tuple[torch.Tensor, list[float]]:
    """The latent fitted for c.refine_steps at c.refine_lr from z0: the outline_loss on r.rays rays a step
    (r = cfg.shape_siren.refine: rays, samples_per_ray, outline_loss) plus c.refine_pull times the mean
    squared move from z0 in units of field.scale (the training latents' spread per dimension)."""
    o, d, near, far, mask = (t.to(z0.device) for t in rays[:5])
    z = z0.detach().clone().requires_grad_(True)
    scale = field.scale(z0)

    def loss(step):
        idx = torch.randint(len(o), (r.rays,), generator=gen).to(o.device)

        def f(x):
            return field.sdf(z, x)

        batch = (o[idx], d[idx], near[idx], far[idx])
        t, values = ray_values(f, *batch, r.samples_per_ray, gen)
        least = ray_least(f, *batch, t, values, r.least_rounds)
        return outline_loss(least, mask[idx], r) + c.refine_pull * (((z - z0) / scale) ** 2).mean()

    curve = train([z], loss, c.refine_steps, c.refine_lr, desc="fit latent to views")
    return z.detach(), curve


def refine_latent(field: DecoderField, z0, rays, c, r, gen) -> tuple[torch.Tensor, dict]:
    """fit_to_views, kept only where the silhouette IoU with the drawn outlines (on r.eval_rays) rises
    (stages/shape_sirens.accepted without depth); otherwise z0. Returns the latent and the record."""
    before = dict(silhouette_iou=silhouette_iou(field, z0, rays, r))
    if c.refine_steps <= 0:
        return z0, dict(view_iou_predicted=before["silhouette_iou"], view_iou_refined=before["silhouette_iou"])
    z, curve = fit_to_views(field, z0, rays, c, r, gen)
    after = dict(silhouette_iou=silhouette_iou(field, z, rays, r))
    keep = accepted(before, after, None)
    return (z if keep else z0), dict(
        view_iou_predicted=before["silhouette_iou"],
        view_iou_refined=(after if keep else before)["silhouette_iou"],
        refine_accepted=keep,
        refine_loss_first=curve[0],
        refine_loss_last=curve[-1],
    )
