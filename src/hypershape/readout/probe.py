"""Reading a hypernetwork by what it draws: the image-SIRENs it emits at the cameras' directions,
evaluated at chosen pixels. The views are what the hypernetwork was fitted to reproduce, so its probed
outlines are the object's silhouettes as the weights hold them."""

from __future__ import annotations

import numpy as np
import torch

from ..geometry.carve import hull_grid
from ..nets.hypernet import HyperNet
from ..nets.siren import SirenSpec, pixel_grid, siren_forward
from ..render import camera_directions, camera_poses, render_like, rgb_on_black, view_count
from ..runtime import load_torch
from ..stages.common import image_spec


def probe_cameras(render) -> tuple[torch.Tensor, torch.Tensor]:
    """Directions [V, 3] and camera-to-world poses [V, 4, 4] of the views (cfg.render), as 03 renders them."""
    dirs = camera_directions(render.elevations_deg, render.per_ring)
    poses = camera_poses(render.distance, render.elevations_deg, render.per_ring)
    return torch.from_numpy(dirs).float(), torch.from_numpy(poses).float()


@torch.no_grad()
def probe_images(net: HyperNet, directions: torch.Tensor, resolution: int, compiled: bool = False) -> torch.Tensor:
    """The brightness (mean of RGB; views are drawn on black) [V, R, R] of the image each SIREN the
    hypernetwork emits at `directions` draws at resolution × resolution pixel centres (any resolution: a
    SIREN is a function of continuous pixel coordinates)."""
    coords = pixel_grid(resolution).to(directions.device)
    rgb = siren_forward(net.target, net(directions), coords, compiled)  # [V, R*R, 3]
    return rgb.mean(-1).reshape(len(directions), resolution, resolution)


class Prober:
    """Loads each object's hypernetwork (on the image anchor it was built on) and draws its views at the
    cameras' directions: what 70 keeps as route probe's features and 80 carves."""

    def __init__(self, cfg, paths, image_spec: SirenSpec, device):
        self.cfg, self.paths, self.spec = cfg, paths, image_spec
        directions, self.poses = probe_cameras(cfg.render)
        self.directions = directions.to(device)
        self.base = load_torch(paths.image_anchor)["flat"].to(device)
        self.last: tuple[str, HyperNet] | None = None  # route hybrid draws one object twice: load it once

    def images(self, obj_id: str, resolution: int) -> torch.Tensor:
        """probe_images of the object's hypernetwork at resolution × resolution."""
        if self.last is None or self.last[0] != obj_id:
            path = self.paths.hypernet(obj_id)
            self.last = (obj_id, HyperNet.load(load_torch(path), self.cfg.hypernet, self.spec, self.base, str(path)))
        return probe_images(self.last[1], self.directions, resolution, self.cfg.device.compile)


def drawn_hull_grid(images: torch.Tensor, cam_to_world: torch.Tensor, cfg) -> np.ndarray:
    """carve.hull_grid of views [V, R, R] as every route carves a hypernetwork's views: cfg.mapper.probe's
    threshold and grid over [-reconstruct.bound, reconstruct.bound]^3, cfg.render's field of view."""
    probe = cfg.mapper.probe
    return hull_grid(
        images, cam_to_world, cfg.render.yfov_deg, probe.threshold, probe.resolution, cfg.reconstruct.bound
    )


def mesh_views(mesh, render) -> tuple[torch.Tensor, torch.Tensor]:
    """The views of `mesh` rendered as 03 renders (cfg.render): brightness on black, as the image-SIRENs are
    fitted, and depth along each camera's axis (0 where it draws nothing), [V, R, R] each. An empty mesh
    draws black and nothing."""
    if len(mesh.faces) == 0:
        blank = torch.zeros(view_count(render), render.resolution, render.resolution)
        return blank, blank.clone()
    drawn = render_like(mesh, render)
    return torch.from_numpy(rgb_on_black(drawn["rgba"]).mean(-1)), torch.from_numpy(drawn["depth"])


def mesh_brightness(mesh, render) -> torch.Tensor:
    """The brightness of mesh_views [V, R, R]."""
    return mesh_views(mesh, render)[0]


def view_error(mesh, images: torch.Tensor, render) -> float:
    """Mean |brightness difference| between the views of `mesh` rendered as 03 renders (cfg.render) and
    `images` [V, R, R] (probe_images at render.resolution): how far a candidate shape draws from what the
    hypernetwork draws. Shading tells a filled concavity from a hollow one where outlines cannot. Absolute,
    not squared, so a dilated outline's rim does not outweigh a cup's inside."""
    return float((mesh_brightness(mesh, render) - images.cpu()).abs().mean())


def probe_features(cfg, paths, ids: list[str], device) -> dict:
    """{id: the views its hypernetwork draws at mapper.probe.feature_resolution, flattened}: route probe's
    input space, in which retrieval looks up neighbours."""
    prober = Prober(cfg, paths, image_spec(cfg), device)
    return {i: prober.images(i, cfg.mapper.probe.feature_resolution).reshape(-1).cpu() for i in ids}
