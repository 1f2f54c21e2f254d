"""The brightness of a fully covered pixel in 03's pictures as a function of n·l, the cosine between the
surface normal and the direction to the key light that rides on its camera (render.light_directions).

The renderer is fixed (render.render_views: ambient light, one directional key light, one rough
non-metallic material, no shadows), so brightness (mean of RGB, as readout/probe draws it) is close to a
monotone function of n·l. The function is calibrated on the real renderer, not written down: a sphere is
rendered with the run's cameras and fitted piecewise-linearly on fixed knots. Refinement (stages/
shape_sirens.py) compares the brightness this predicts from a field's normals with the pictures'."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import trimesh

from .render import depth_to_points, light_directions, render_views, rgb_on_black

KNOTS = 17
"""Knots of the piecewise-linear model, evenly spaced on n·l in [-1, 1]."""
CALIBRATION_RADIUS = 0.6
"""Radius of the calibration sphere, centred at the origin: well inside every view."""
CALIBRATION_RESOLUTION = 64
"""Least resolution the sphere is rendered at. A pixel's brightness does not depend on the resolution, but
only fully covered pixels are read, and finer pixels reach closer to the rim, where n·l is lowest: at this
resolution, below n·l = 0."""
FULL = 0.99
"""Coverage above which a pixel shows the surface alone (no background mixed in at an edge)."""


@dataclass(frozen=True)
class BrightnessModel:
    """Brightness at each of KNOTS evenly spaced n·l in [-1, 1] (non-decreasing), linear in between."""

    values: tuple[float, ...]

    def __call__(self, cos: torch.Tensor) -> torch.Tensor:
        """Predicted brightness of surface points whose normals make cosines `cos` (any shape) with the
        light; differentiable in cos. Clamped to [-1, 1] first."""
        values = torch.tensor(self.values, dtype=cos.dtype, device=cos.device)
        pos = (cos.clamp(-1.0, 1.0) + 1.0) * (0.5 * (len(values) - 1))
        low = pos.detach().floor().clamp(max=len(values) - 2).long()
        w = pos - low
        return values[low] * (1 - w) + values[low + 1] * w


def knots() -> np.ndarray:
    """The model's n·l knots."""
    return np.linspace(-1.0, 1.0, KNOTS)


def fit(cos: np.ndarray, brightness: np.ndarray) -> BrightnessModel:
    """Least-squares piecewise-linear fit of brightness against n·l on knots(), made non-decreasing.

    Knots that no sample reaches (below the lowest n·l the pictures show) take the value of the nearest
    knot that one does: below n·l = 0 the key light adds nothing, so brightness is flat there."""
    k = knots()
    pos = (np.clip(cos, -1.0, 1.0) + 1.0) * (0.5 * (KNOTS - 1))
    low = np.minimum(np.floor(pos).astype(int), KNOTS - 2)
    w = pos - low
    hat = np.zeros((len(cos), KNOTS))  # each sample's weight on each knot
    rows = np.arange(len(cos))
    hat[rows, low], hat[rows, low + 1] = 1 - w, w
    support = hat.sum(0)
    seen = np.flatnonzero(support >= 1.0)
    if len(seen) < 2:
        raise ValueError(f"brightness model: samples reach {len(seen)} knot(s) of {KNOTS}, need two or more")
    values = np.empty(KNOTS)
    values[seen] = np.linalg.lstsq(hat[:, seen], brightness, rcond=None)[0]
    nearest = seen[np.abs(k[:, None] - k[seen][None, :]).argmin(1)]
    values = non_decreasing(values[nearest], np.maximum(support, 1e-6))
    return BrightnessModel(tuple(float(v) for v in values))


def non_decreasing(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing sequence closest to `values` (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, length] of each pooled run
    for v, w in zip(values, weights):
        blocks.append([float(v), float(w), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks[-1]
            blocks[-1] = [(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2]
    return np.concatenate([np.full(n, v) for v, _, n in blocks])


def covered_pixels(drawn: dict, lights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every fully covered pixel of render_views' output `drawn` whose ray hits the mesh: the hit point
    [n, 3] (from the depth map), the direction to its view's light [n, 3] (`lights` [V, 3], by default
    the key lights the renderer used), and its brightness [n]."""
    points = depth_to_points(drawn["depth"], drawn["K"], drawn["cam_to_world"])
    lights = light_directions(drawn["cam_to_world"]) if lights is None else lights
    hits, light, brightness = [], [], []
    for rgba, depth, pts, towards in zip(drawn["rgba"], drawn["depth"], points, lights):
        seen = rgba[depth > 0]
        full = seen[:, 3] >= FULL * 255
        hits.append(pts[full])
        light.append(np.broadcast_to(towards, (int(full.sum()), 3)))
        brightness.append(rgb_on_black(seen[full]).mean(-1))
    return np.concatenate(hits), np.concatenate(light), np.concatenate(brightness)


@lru_cache(maxsize=None)
def calibrated(resolution: int, yfov_deg: float, distance: float, elevations_deg: tuple, per_ring: int):
    """fit() to a sphere of CALIBRATION_RADIUS rendered with these cameras (render_views)."""
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=CALIBRATION_RADIUS)
    drawn = render_views(
        sphere,
        max(resolution, CALIBRATION_RESOLUTION),
        yfov_deg,
        distance,
        elevations_deg=elevations_deg,
        per_ring=per_ring,
    )
    points, light, brightness = covered_pixels(drawn)
    normals = points / np.linalg.norm(points, axis=1, keepdims=True)  # the sphere's, about the origin
    return fit((normals * light).sum(1), brightness)


def brightness_model(render) -> BrightnessModel:
    """The calibrated model of the run's renderer (cfg.render), made once per process and setting."""
    elevations = tuple(float(e) for e in render.elevations_deg)  # hashable: the cache's key
    return calibrated(
        int(render.resolution), float(render.yfov_deg), float(render.distance), elevations, int(render.per_ring)
    )


GRAZING = 0.05
"""Hits whose ray meets the surface at |∇f·d| below this are left out: the implicit step divides by it."""


@dataclass
class RayShading:
    """What the shading term reads for each ray of stages/shape_sirens.view_rays: the picture's brightness
    [R], the unit direction to the key light of the ray's camera [R, 3], whether the term reads the ray at
    all [R] (interior_pixels), and the renderer's model."""

    brightness: torch.Tensor
    light: torch.Tensor
    reads: torch.Tensor
    model: BrightnessModel

    def to(self, device) -> RayShading:
        return RayShading(self.brightness.to(device), self.light.to(device), self.reads.to(device), self.model)

    def take(self, idx: torch.Tensor) -> RayShading:
        """The rays `idx` (indices or a boolean mask) alone."""
        return RayShading(self.brightness[idx], self.light[idx], self.reads[idx], self.model)


def interior_pixels(mask: torch.Tensor, margin: int) -> torch.Tensor:
    """Whether each pixel of coverage masks [V, R, R] is fully covered (> FULL) and so is every pixel within
    `margin` of it (a square of side 2·margin + 1; beyond the picture's edge counts as covered) -> [V, R, R]."""
    full = (mask > FULL).float()[:, None]
    if margin > 0:
        full = -torch.nn.functional.max_pool2d(-full, 2 * margin + 1, stride=1, padding=margin)
    return full[:, 0] > 0.5


def ray_shading(views: dict, model: BrightnessModel, margin: int) -> RayShading:
    """RayShading of every pixel of `views` (stages/common.load_views: rgb [V, H*W, 3] on black, the masks
    and the cameras), in view_rays' order; the term reads the interior_pixels at `margin`."""
    rgb = views["rgb"]
    light = torch.from_numpy(light_directions(views["cam_to_world"])).float()
    reads = interior_pixels(views["mask"], margin)
    return RayShading(rgb.mean(-1).reshape(-1), light.repeat_interleave(rgb.shape[1], 0), reads.reshape(-1), model)


def first_hit(t: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each ray first enters the field's surface, from its values [R, S] at increasing ray parameters
    t [R, S]: whether it does (a sample outside followed by one inside), and the ray parameter of the zero
    crossing by linear interpolation between the two (0 where it does not). No gradient."""
    t, values = t.detach(), values.detach()
    inside = values <= 0
    first = inside.to(torch.uint8).argmax(1)  # index of the first sample inside (0 where none is)
    hit = inside.any(1) & (first > 0)
    after = first.clamp(min=1)[:, None]
    t_a, t_b = t.gather(1, after - 1)[:, 0], t.gather(1, after)[:, 0]
    f_a, f_b = values.gather(1, after - 1)[:, 0], values.gather(1, after)[:, 0]
    crossing = t_a + (t_b - t_a) * f_a / torch.where(hit, f_a - f_b, torch.ones_like(f_a))
    return hit, torch.where(hit, crossing, torch.zeros_like(crossing))


def unit_normals(field, params, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """∇f/|∇f| of the field at points x [N, 3] (which may themselves depend on params); with create_graph,
    differentiable in params."""
    with torch.enable_grad():
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(field.sdf(params, x).sum(), x, create_graph=create_graph)
    return grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def implicit_hit(field, params, o, d, t0) -> tuple[torch.Tensor, torch.Tensor]:
    """The surface points o + t0·d made differentiable in params by one implicit step (IDR, Yariv et al.
    2020): x = x0 − d·f(x0) / (∇f(x0)·d), the denominator held constant. Its value is x0 where f(x0) = 0,
    and its gradient moves the point along the ray as the zero set moves. Also whether each ray meets the
    surface steeper than GRAZING."""
    x0 = (o + t0[:, None] * d).detach().requires_grad_(True)
    with torch.enable_grad():
        f0 = field.sdf(params, x0)[:, 0]
        (grad,) = torch.autograd.grad(f0.sum(), x0, retain_graph=True)
    slope = (grad * d).sum(-1).detach()
    steep = slope < -GRAZING  # entering: f falls along the ray
    slope = torch.where(steep, slope, torch.full_like(slope, -1.0))
    return x0.detach() - d * (f0 / slope)[:, None], steep


def shading_residuals(field, params, o, d, t, values, shading: RayShading, differentiable: bool) -> torch.Tensor:
    """|model(n·l) − observed brightness| of each ray of o, d [R, 3] (fully covered pixels, the caller's
    choice) that enters the field's surface, found from its values [R, S] at ray parameters t [R, S]. With
    `differentiable` the hit and its normal carry gradients to params (implicit_hit); otherwise they are
    the hard hit without any. `shading` holds the same R rays. Empty when no ray hits."""
    hit, t0 = first_hit(t, values)
    if not hit.any():
        return values.new_zeros(0)
    o, d, t0 = o[hit], d[hit], t0[hit]
    if differentiable:
        x, steep = implicit_hit(field, params, o, d, t0)
    else:
        x, steep = (o + t0[:, None] * d), torch.ones(len(o), dtype=torch.bool, device=o.device)
    normals = unit_normals(field, params, x[steep], create_graph=differentiable)
    light, observed = shading.light[hit][steep], shading.brightness[hit][steep]
    return (shading.model((normals * light).sum(-1)) - observed).abs()
