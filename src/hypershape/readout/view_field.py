"""A signed distance read point by point off the views a hypernetwork draws, by a small network learnt on
the training objects. The visual hull (geometry/carve.py) keeps a point where every view's brightness there
exceeds one threshold; the drawn outlines are soft, and at 32 pixels a view that hull is larger than the
object by up to about a pixel (0.07 at the object). Here each point's features are the brightness (saturated)
each view draws at its projection, under several box blurs (how near the outline the point projects, which
the hull's threshold throws away), sorted over the views per blur so that no family's pose is learnt; the
network maps them to the SDF. It sees no position and no object as a whole: what it can learn is how
outlines relate to surfaces. docs/results.md measures it against the hull on new families: trained with a
constant learning rate, one network's zero set had holes and loose pieces at one readout seed of three that
three members (ViewField) mend in part; a learning rate falling to lr_end (and the voids that leaves filled
at 80) gives one network a steadier median over the three seeds. Options: the views sorted within each
ring of cameras, sorted once, each with its blurs, or kept in the cameras' order (order), the views'
shading as drawn beside their saturated outlines (shading), and what the views show that their visual hull
does not (hull_residual), which lets the network see the shading of a hollow the hull fills, and how far
behind the hull's front the point lies in each view (hull_depth)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..geometry.carve import camera_depth, seen_at
from ..geometry.marching import beside_surface, closed_mesh, grid_points
from ..runtime import generator
from ..training import sdf_batch, train
from .autodecode import clamped_l1, sample_gens
from .probe import drawn_hull_grid, mesh_views


def box_blurs(images: torch.Tensor, radii) -> torch.Tensor:
    """The views [V, R, R] under a (2r + 1)-pixel box blur for each r of `radii` (0: none) -> [S, V, R, R].
    Off the image counts as 0 (background), as it does for the hull."""
    x = images[:, None]
    out = [F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=True) if r else x for r in radii]
    return torch.stack(out)[:, :, 0]


def blurred(images: torch.Tensor, radii, saturation: float) -> torch.Tensor:
    """box_blurs of the views [V, R, R], brightness divided by `saturation` and capped at 1 first (what a view
    shows inside its outline is shading, not nearness to the outline) -> [S, V, R, R]."""
    return box_blurs((images / saturation).clamp(max=1.0), radii)


def view_stack(images: torch.Tensor, cam_to_world: torch.Tensor, c, cfg) -> torch.Tensor:
    """What view_features samples, from the views [V, R, R] and the view_field section `c` (a dict, as 70
    trained it): the views saturated and under each blur; with c's shading, as drawn under the same blurs;
    with c's hull_residual, what they show that their visual hull does not; with c's hull_depth, last, the
    depth of the hull's front in each view, as is, and where a view's ray misses the hull, beyond the cube's
    farthest point by hull_depth (cfg: the run's config, whose render and probe settings the hull is carved
    and drawn with) -> [S, V, R, R]."""
    parts = [blurred(images, c["blur_radii"], c["saturation"])]
    if c.get("shading"):  # absent from checkpoints made before it existed
        parts.append(box_blurs(images, c["blur_radii"]))
    if c.get("hull_residual") or c.get("hull_depth"):
        brightness, depth = (x.to(images) for x in hull_render(images.cpu(), cam_to_world, cfg))
    if c.get("hull_residual"):
        parts.append(box_blurs(images - brightness, c["blur_radii"]))
    if c.get("hull_depth"):
        far = cfg.render.distance + math.sqrt(3) * cfg.reconstruct.bound + c["hull_depth"]
        parts.append(torch.where(depth > 0, depth, far)[None])
    return torch.cat(parts)


def hull_render(images: torch.Tensor, cam_to_world: torch.Tensor, cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """The visual hull of the views' [V, R, R] own outlines, carved as route probe carves it
    (cfg.mapper.probe's threshold and grid), rendered as 03 renders (cfg.render): its brightness and its
    depth along each camera's axis [V, R, R] each (depth 0 where it draws nothing). Where the hull fills a
    hollow, the hollow's shading differs from that of the cap the hull puts over it; a convex solid's hull
    draws back close to its views."""
    return mesh_views(closed_mesh(drawn_hull_grid(images, cam_to_world, cfg), cfg.reconstruct.bound), cfg.render)


ORDERS = ("blur", "view", "ring", "camera")


def camera_rings(cam_to_world: torch.Tensor) -> list[torch.Tensor]:
    """The views' indices grouped by their camera's elevation (the rings of render.elevations_deg), lowest
    first: which views look up at an object, across at it or down on it."""
    position = cam_to_world[:, :3, 3]
    elevation = torch.rad2deg(torch.asin(position[:, 2] / position.norm(dim=-1))).round(decimals=3)
    return [(elevation == e).nonzero()[:, 0] for e in elevation.unique()]


def check_order(order: str) -> str:
    if order not in ORDERS:
        raise ValueError(f"view_field.order is {order!r}; it is one of {', '.join(ORDERS)}")
    return order


def view_features(
    stack: torch.Tensor,
    cam_to_world: torch.Tensor,
    yfov_deg: float,
    points: torch.Tensor,
    order: str = "blur",
    hull_depth: float = 0.0,
):
    """Features [N, S * V] of points [N, 3]: the V views' values at the point's projection (bilinear) in each
    channel of `stack` [S, V, R, R] (view_stack), ordered over the views by `order` (cfg.view_field):
    blur, each channel's V values sorted on their own; ring, so within each ring of cameras (camera_rings);
    view, the views sorted once by their values summed over the channels, each view's S values kept together
    (V tuples); camera, V tuples in the cameras' order. hull_depth > 0: the last channel is the depth of the
    hull's front, read as how far behind it the point lies, clamped to ±hull_depth and divided by it."""
    check_order(order)
    s, v = stack.shape[:2]
    seen = seen_at(stack.transpose(0, 1), cam_to_world, yfov_deg, points).permute(2, 0, 1)  # [N, V, S]
    if hull_depth:
        behind = (camera_depth(points, cam_to_world).T - seen[..., -1]).clamp(-hull_depth, hull_depth)
        seen = torch.cat([seen[..., :-1], (behind / hull_depth)[..., None]], -1)
    if order == "blur":
        return seen.transpose(1, 2).sort(-1).values.reshape(len(points), s * v)
    if order == "ring":  # each ring's views sorted per channel: the rings' places kept, the azimuths not
        rings = [seen[:, at].transpose(1, 2).sort(-1).values for at in camera_rings(cam_to_world)]
        return torch.cat(rings, -1).reshape(len(points), s * v)
    if order == "view":
        seen = seen.gather(1, seen.sum(-1).argsort(-1)[..., None].expand(-1, -1, s))
    return seen.reshape(len(points), v * s)


class ViewField(nn.Module):
    """Features of a point (view_features) -> its SDF: the mean of `members` MLPs of `layers` hidden layers of
    `hidden` units each, from different inits. Trained side by side, each on its own loss; where one
    member's zero set has holes or loose pieces the others' lack, their mean can outvote them (at the seed
    docs/results.md tried, three members removed the bowls' holes and the chairs' loose pieces, not the
    boxes' holes, which every member shared)."""

    def __init__(
        self, features: int, hidden: int, layers: int, members: int = 1, order: str = "blur", hull_depth: float = 0.0
    ):
        super().__init__()
        sizes = [features] + [hidden] * layers

        def mlp() -> nn.Sequential:
            body = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.Softplus(beta=100))]
            return nn.Sequential(*body, nn.Linear(sizes[-1], 1))

        self.nets = nn.ModuleList(mlp() for _ in range(members))
        self.order, self.hull_depth = check_order(order), hull_depth
        # what the checkpoint rebuilds it from: ViewField(**sizes)
        self.sizes = dict(
            features=features, hidden=hidden, layers=layers, members=members, order=order, hull_depth=hull_depth
        )

    def features(self, stack: torch.Tensor, cam_to_world: torch.Tensor, yfov_deg: float, points: torch.Tensor):
        """view_features of points [N, 3] in the order this network reads them."""
        return view_features(stack, cam_to_world, yfov_deg, points, self.order, self.hull_depth)

    def each(self, features: torch.Tensor) -> torch.Tensor:
        """Every member's SDF: [members, *features.shape[:-1]]."""
        return torch.stack([net(features)[..., 0] for net in self.nets])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.each(features).mean(0)


def train_view_field(stacks, data, ids, cam_to_world, c, yfov_deg: float, seed: int, device):
    """The ViewField (sizes and members from `c`, cfg.view_field) fitted on the training objects: their
    blurred views (stacks, [S, V, R, R] each) and 02 SDF samples (data: (points, sdf) each), c.points samples
    of c.batch_objects objects per step, clamped L1 at c.clamp, each member on the same batches. Seeded by
    `seed`. Returns it and the curve (the members' mean loss)."""
    torch.manual_seed(seed)
    s, v = stacks[0].shape[:2]
    field = ViewField(s * v, c.hidden, c.layers, c.members, c.order, c.hull_depth).to(device)
    gens, pick = sample_gens(seed, "view-field", ids), generator(seed, "view-field-objects")
    size = min(c.batch_objects or len(data), len(data))
    stacks = [x.to(device) for x in stacks]

    def loss(step):
        rows = torch.randperm(len(data), generator=pick)[:size].tolist()
        x, y = sdf_batch([data[r] for r in rows], c.points, [gens[r] for r in rows], device)
        feats = torch.stack([field.features(stacks[r], cam_to_world, yfov_deg, x[k]) for k, r in enumerate(rows)])
        return clamped_l1(field.each(feats), y, c.clamp).mean(-1)  # one loss per member: train sums them

    curve = train(field.parameters(), loss, c.steps, c.lr, desc="view field", shared=True, lr_end=c.lr_end)
    return field.eval().requires_grad_(False), curve


@torch.no_grad()
def field_grid(field: ViewField, stack, cam_to_world, yfov_deg: float, points: torch.Tensor, chunk: int = 1 << 16):
    """The field's SDF [N] (on the CPU) at points [N, 3], `chunk` points at a time on the field's device."""
    device = next(field.parameters()).device
    parts = [field(field.features(stack, cam_to_world, yfov_deg, p.to(device))).cpu() for p in points.split(chunk)]
    return torch.cat(parts)


def grid_values(
    field: ViewField,
    stack,
    cam_to_world,
    yfov_deg: float,
    resolution: int,
    bound: float,
    coarse: int = 0,
    band: float = 0.0,
):
    """The field's SDF over grid_points(resolution, bound) [R, R, R] (float64, on the CPU).

    0 < coarse < resolution: first over a coarse^3 grid spanning the same cube, trilinearly interpolated to
    the fine grid; then exactly at the fine points of every coarse cell with a corner (or a neighbouring
    cell's corner) within `band` of zero, and at every point beside a sign change (beside_surface) not yet
    read, until none is left, so every value marching cubes reads is the field's own. A surface inside a
    cell lies within half its diagonal of a corner, where a distance field reads under that: a band above
    half the coarse diagonal (0.056 at 32 over [-1, 1]) keeps every such cell, while far from the surface
    the interpolation keeps the field's sign (a part the band misses entirely stays missed)."""
    fine = torch.from_numpy(grid_points(resolution, bound).astype(np.float32))
    if not coarse or coarse >= resolution:  # no coarser grid to start from
        return field_grid(field, stack, cam_to_world, yfov_deg, fine).reshape((resolution,) * 3).double().numpy()
    rough = torch.from_numpy(grid_points(coarse, bound).astype(np.float32))
    rough = field_grid(field, stack, cam_to_world, yfov_deg, rough).reshape(1, 1, *(coarse,) * 3)
    # grid_points includes both ends of each axis, as align_corners=True reads them
    up = dict(size=(resolution,) * 3, mode="trilinear", align_corners=True)
    values = F.interpolate(rough, **up).reshape(-1)
    # |value| least over each coarse point's 3^3 neighbours, interpolated: under every fine point it is at
    # most the least |value| at the corners of the coarse cell the point lies in
    nearest = -F.max_pool3d(-rough.abs(), 3, stride=1, padding=1)
    todo = F.interpolate(nearest, **up).reshape(-1) < band
    read = torch.zeros_like(todo)
    while True:
        at = todo.nonzero()[:, 0]
        if len(at):
            values[at] = field_grid(field, stack, cam_to_world, yfov_deg, fine[at])
        read |= todo
        # what was read can flip a sign and put unread points beside the surface
        todo = torch.from_numpy(beside_surface(values.reshape((resolution,) * 3).numpy()).reshape(-1)) & ~read
        if not todo.any():
            break
    return values.reshape((resolution,) * 3).double().numpy()
