"""Test-time fitting of an object's latent (the decoder frozen) to the outlines of the views its
hypernetwork draws: soft silhouettes along camera rays (stages/shape_sirens.py's), BCE against the drawn
outlines, a pull towards the starting latent. Kept only where the hard silhouettes agree better with the
outlines. Reads the object's hypernetwork alone: no 03 mask, no depth."""

from __future__ import annotations

import torch

from ..nets.shape_decoder import ShapeDecoder
from ..render import intrinsics
from ..stages.shape_sirens import (
    HARD_TEMPERATURE,
    accepted,
    coverage_iou,
    field_silhouette,
    outline_loss,
    ray_least,
    ray_values,
    view_rays,
)
from ..training import train
from .probe import Prober


def drawn_rays(prober: Prober, obj_id: str, render, threshold: float) -> tuple[torch.Tensor, ...]:
    """view_rays of the probe cameras at render.resolution with the outlines the object's hypernetwork
    draws (brightness above `threshold`, readout/probe) as masks, and no depth (every t_hit 0)."""
    res = render.resolution
    outlines = (prober.images(obj_id, res).cpu() > threshold).float()
    views = dict(
        K=intrinsics(res, render.yfov_deg),
        cam_to_world=prober.poses.numpy(),
        resolution=res,
        mask=outlines,
        depth=torch.zeros_like(outlines),
    )
    return view_rays(views)


@torch.no_grad()
def silhouette_iou(decoder: ShapeDecoder, z: torch.Tensor, rays, samples: int, max_rays: int, rounds: int = 0) -> float:
    """IoU of the decoded field's hard silhouettes with the masks, on at most `max_rays` rays evenly spaced
    over all views (stages/shape_sirens.view_agreement's measure, for a decoder's field)."""
    o, d, near, far, mask, _ = rays
    idx = torch.linspace(0, len(o) - 1, min(len(o), max_rays)).long()
    dev = z.device
    o, d, near, far = (x[idx].to(dev) for x in (o, d, near, far))
    occ = field_silhouette(lambda x: decoder(z, x), o, d, near, far, samples, HARD_TEMPERATURE, None, rounds) > 0.5
    return coverage_iou(occ, mask[idx].to(dev))


def fit_to_views(
    decoder: ShapeDecoder, z0: torch.Tensor, scale: torch.Tensor, rays, c, r, gen: torch.Generator
) -> tuple[torch.Tensor, list[float]]:
    """The latent fitted for c.refine_steps at c.refine_lr from z0: the outline_loss on r.rays rays a step
    (r = cfg.shape_siren.refine: rays, samples_per_ray, outline_loss) plus c.refine_pull times the mean
    squared move from z0 in units of `scale` (the training latents' spread per dimension)."""
    o, d, near, far, mask, _ = (t.to(z0.device) for t in rays)
    z = z0.detach().clone().requires_grad_(True)
    decoder.requires_grad_(False)

    def loss(step):
        idx = torch.randint(len(o), (r.rays,), generator=gen).to(o.device)

        def field(x):
            return decoder(z, x)

        batch = (o[idx], d[idx], near[idx], far[idx])
        t, values = ray_values(field, *batch, r.samples_per_ray, gen)
        least = ray_least(field, *batch, t, values, r.least_rounds)
        return outline_loss(least, mask[idx], r) + c.refine_pull * (((z - z0) / scale) ** 2).mean()

    curve = train([z], loss, c.refine_steps, c.refine_lr, desc="fit latent to views")
    return z.detach(), curve


def refine_latent(decoder, z0, scale, rays, c, r, gen) -> tuple[torch.Tensor, dict]:
    """fit_to_views, kept only where the silhouette IoU with the drawn outlines (on r.eval_rays) rises
    (stages/shape_sirens.accepted without depth); otherwise z0. Returns the latent and the record."""
    before = dict(silhouette_iou=silhouette_iou(decoder, z0, rays, r.samples_per_ray, r.eval_rays, r.least_rounds))
    if c.refine_steps <= 0:
        return z0, dict(view_iou_predicted=before["silhouette_iou"], view_iou_refined=before["silhouette_iou"])
    z, curve = fit_to_views(decoder, z0, scale, rays, c, r, gen)
    after = dict(silhouette_iou=silhouette_iou(decoder, z, rays, r.samples_per_ray, r.eval_rays, r.least_rounds))
    keep = accepted(before, after, None)
    return (z if keep else z0), dict(
        view_iou_predicted=before["silhouette_iou"],
        view_iou_refined=(after if keep else before)["silhouette_iou"],
        refine_accepted=keep,
        refine_loss_first=curve[0],
        refine_loss_last=curve[-1],
    )
