"""Loading what stages hand to each other, in the form training wants it."""
from __future__ import annotations

import numpy as np
import torch

from ..nets.siren import SirenSpec
from ..runtime import fingerprint


def pixel_grid(resolution: int) -> torch.Tensor:
    """Pixel-centre coordinates in [-1, 1]², row-major like the images: [H*W, 2] as (x, y)."""
    t = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx, yy], -1).reshape(-1, 2)


def load_views(path) -> dict:
    """A 03 npz as tensors: rgb on black [24, H*W, 3], mask [24, H, W], and the cameras."""
    v = np.load(path)
    rgba = torch.from_numpy(v["rgba"]).float() / 255.0
    rgb = rgba[..., :3] * rgba[..., 3:]
    return dict(rgb=rgb.reshape(rgb.shape[0], -1, 3), mask=rgba[..., 3], K=v["K"], cam_to_world=v["cam_to_world"],
                directions=torch.from_numpy(v["directions"]).float(), resolution=rgba.shape[1])


def image_spec(cfg) -> SirenSpec:
    return SirenSpec.of(cfg.image_siren, 2, 3)


def shape_spec(cfg) -> SirenSpec:
    return SirenSpec.of(cfg.shape_siren, 3, 1)


def load_samples(paths, obj_id: str) -> tuple[torch.Tensor, torch.Tensor]:
    s = np.load(paths.sdf_samples(obj_id))
    return torch.from_numpy(s["points"]).float(), torch.from_numpy(s["sdf"]).float()


def sdf_batch(data: list[tuple[torch.Tensor, torch.Tensor]], n: int, gen: torch.Generator, device):
    """n random SDF samples of each object: points [B, n, 3], sdf [B, n]."""
    idx = [torch.randint(len(x), (n,), generator=gen) for x, _ in data]
    x = torch.stack([d[0][i] for d, i in zip(data, idx)]).to(device)
    y = torch.stack([d[1][i] for d, i in zip(data, idx)]).to(device)
    return x, y


def split_key(objects: list[dict]) -> str:
    """Which objects are in which split: anything trained on the train split depends on it."""
    return fingerprint(sorted((o["id"], o["split"]) for o in objects))

