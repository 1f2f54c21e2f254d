"""The visual hull of an object from its silhouettes: every point that every camera sees inside the
object's outline. Here the outlines are images a hypernetwork draws (readout/probe.py), thresholded."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .marching import grid_points


def camera_local(points: torch.Tensor, cam_to_world: torch.Tensor) -> torch.Tensor:
    """World points [M, 3] in each camera's frame [V, M, 3]: R^T (p - eye)."""
    rot, eye = cam_to_world[:, :3, :3], cam_to_world[:, :3, 3]
    return torch.einsum("vji,vmj->vmi", rot, points[None] - eye[:, None])


def camera_depth(points: torch.Tensor, cam_to_world: torch.Tensor) -> torch.Tensor:
    """Each point's depth [V, M] along each camera's axis (−Z), as render_views measures its depth maps."""
    return -camera_local(points, cam_to_world.to(points))[..., 2]


def project(points: torch.Tensor, cam_to_world: torch.Tensor, yfov_deg: float) -> torch.Tensor:
    """Image coordinates [V, M, 2] of world points [M, 3] in each camera [V, 4, 4] (render.look_at: looks
    down −Z, +Y up): (x right, y down) in [-1, 1] over the image, pixel centres where nets/siren.pixel_grid
    puts them, which is grid_sample's align_corners=False. Points behind a camera get +inf."""
    local = camera_local(points, cam_to_world)
    depth = -local[..., 2]
    scale = 1.0 / math.tan(math.radians(yfov_deg) / 2)
    xy = torch.stack([local[..., 0], -local[..., 1]], -1) * (scale / depth.clamp(min=1e-9))[..., None]
    return torch.where((depth > 0)[..., None], xy, torch.full_like(xy, math.inf))


def seen_at(images: torch.Tensor, cam_to_world: torch.Tensor, yfov_deg: float, points: torch.Tensor):
    """The value [V, C, N] of each view's channels (images [V, C, R, R]) at each point's projection (bilinear).
    Outside an image counts as background (0)."""
    xy = project(points, cam_to_world.to(points), yfov_deg)
    xy = torch.nan_to_num(xy, posinf=2.0, neginf=-2.0)  # off the image: zero padding
    return F.grid_sample(images.to(points), xy[:, None], align_corners=False, padding_mode="zeros")[:, :, 0]


def hull_field(
    images: torch.Tensor, cam_to_world: torch.Tensor, yfov_deg: float, threshold: float, points: torch.Tensor
) -> torch.Tensor:
    """threshold − min over views of the image value [V, R, R] at each point's projection (bilinear):
    negative exactly where every view sees the point inside its outline (value above threshold), and
    continuous, so its zero set lies between grid points. Outside an image counts as background (0)."""
    return threshold - seen_at(images[:, None], cam_to_world, yfov_deg, points)[:, 0].min(0).values


def hull_grid(
    images: torch.Tensor,
    cam_to_world: torch.Tensor,
    yfov_deg: float,
    threshold: float,
    resolution: int,
    bound: float,
    chunk: int = 1 << 18,
) -> np.ndarray:
    """The visual hull as hull_field over grid_points(resolution, bound), float64 [r, r, r]: negative inside
    the hull; closed_mesh of it is the hull's surface (empty if no point is inside every outline)."""
    points = torch.from_numpy(grid_points(resolution, bound).astype(np.float32))
    values = torch.cat([hull_field(images, cam_to_world, yfov_deg, threshold, p) for p in points.split(chunk)])
    return values.reshape((resolution,) * 3).double().numpy()
