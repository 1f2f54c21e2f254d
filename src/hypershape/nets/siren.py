"""SIREN (Sitzmann et al. 2020) as a module and as a function of a flat weight vector.

The flat form is what the rest of the pipeline passes around: a hypernetwork emits it, the autoencoder
encodes it, and B SIRENs are fitted at once as one [B, P] tensor (inr2vec's batched program): Adam is
per-element, so fitting them together is the same as fitting them one by one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Callable

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class SirenSpec:
    in_dim: int
    hidden: int
    sine_layers: int
    out_dim: int
    w0: float = 30.0

    @property
    def dims(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of every linear layer; all but the last are followed by sin(w0 ·)."""
        sizes = [self.in_dim] + [self.hidden] * self.sine_layers + [self.out_dim]
        return list(zip(sizes[:-1], sizes[1:]))

    @property
    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Name and shape of every parameter tensor, in flat order (weight then bias per layer)."""
        out = []
        for i, (fi, fo) in enumerate(self.dims):
            out += [(f"layers.{i}.weight", (fo, fi)), (f"layers.{i}.bias", (fo,))]
        return out

    @property
    def sizes(self) -> list[int]:
        return [math.prod(s) for _, s in self.shapes]

    @property
    def numel(self) -> int:
        return sum(self.sizes)

    @classmethod
    def of(cls, section, in_dim: int, out_dim: int) -> "SirenSpec":
        """The spec of an image_siren or shape_siren config section."""
        return cls(in_dim, section.hidden, section.sine_layers, out_dim, section.w0)

    def init(self, gen: torch.Generator | None = None) -> torch.Tensor:
        """A flat weight vector with SIREN's initialisation: first layer U(±1/fan_in), the others
        U(±sqrt(6/fan_in)/w0) so activations stay arcsine-distributed through depth."""
        parts = []
        for i, (fi, fo) in enumerate(self.dims):
            bound = 1.0 / fi if i == 0 else math.sqrt(6.0 / fi) / self.w0
            parts.append((torch.rand(fo * fi, generator=gen) * 2 - 1) * bound)
            parts.append((torch.rand(fo, generator=gen) * 2 - 1) / math.sqrt(fi))
        return torch.cat(parts)

    def unflatten(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """Views of a [..., P] vector as the parameter tensors, each [..., *shape]."""
        lead = flat.shape[:-1]
        return [p.reshape(*lead, *s) for p, (_, s) in zip(flat.split(self.sizes, dim=-1), self.shapes)]


def siren_forward(spec: SirenSpec, flat: torch.Tensor, x: torch.Tensor, compiled: bool = False) -> torch.Tensor:
    """Evaluate B SIRENs given as flat weights [B, P] at points x [B, N, in] (see _siren_forward), through
    torch.compile when `compiled` (Numerics.compile: worth it on a GPU; compile time dominates on CPU)."""
    return (_compiled_forward() if compiled else _siren_forward)(spec, flat, x)


@cache
def _compiled_forward() -> Callable:
    """_siren_forward through torch.compile, made once (compiling is lazy: it happens at the first call)."""
    return torch.compile(_siren_forward, dynamic=True)


def _siren_forward(spec: SirenSpec, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Evaluate B SIRENs given as flat weights [B, P] at points x [B, N, in] (or [N, in], shared);
    a single SIREN may be given as [P] with x [N, in]. Returns [B, N, out] (or [N, out])."""
    single = flat.dim() == 1
    if single:
        flat = flat[None]
    if x.dim() == 2:
        x = x[None].expand(flat.shape[0], -1, -1)
    params = spec.unflatten(flat)
    h = x
    n_layers = len(spec.dims)
    for i in range(n_layers):
        w, b = params[2 * i], params[2 * i + 1]
        if i < n_layers - 1:  # sin(w0 (W h + b)), the w0 folded into the product: one pass less per layer
            h = torch.sin(torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), beta=spec.w0, alpha=spec.w0))
        else:
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
    return h[0] if single else h


def siren_eval(
    spec: SirenSpec, flat: torch.Tensor, x: torch.Tensor, chunk: int | None = None, compiled: bool = False
) -> torch.Tensor:
    """siren_forward of one SIREN [P] at points [N, in] without gradients, `chunk` points at a time (None:
    all at once). On a CPU a chunk whose activations stay in cache is faster than all points at once
    (benchmarks/eval_chunk.py); the values are the same up to float summation order."""
    with torch.no_grad():
        if not chunk or len(x) <= chunk:
            return siren_forward(spec, flat, x, compiled)
        return torch.cat([siren_forward(spec, flat, part, compiled) for part in x.split(chunk)])


def siren_field(
    spec: SirenSpec, flat: torch.Tensor, device, chunk: int | None = None, compiled: bool = False
) -> Callable[[np.ndarray], np.ndarray]:
    """One shape-SIREN as a field on numpy points [n, 3] -> [n], exactly as fitted (no clipping: what
    the network does anywhere in the scored cube is what gets scored), evaluated `chunk` points at a time."""
    flat = flat.to(device)

    def f(points: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(points, dtype=np.float32), device=device)
        return siren_eval(spec, flat, x, chunk, compiled)[:, 0].cpu().numpy()

    return f


class Siren(nn.Module):
    """The same network as a module (for users who want nn.Linear layers)."""

    def __init__(self, spec: SirenSpec, flat: torch.Tensor | None = None):
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleList(nn.Linear(fi, fo) for fi, fo in spec.dims)
        self.load_flat(spec.init() if flat is None else flat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.sin(self.spec.w0 * x)
        return x

    def flat(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self.parameters()])

    @torch.no_grad()
    def load_flat(self, flat: torch.Tensor) -> None:
        for p, v in zip(self.parameters(), self.spec.unflatten(flat)):
            p.copy_(v)


def pixel_grid(resolution: int) -> torch.Tensor:
    """Pixel-centre coordinates in [-1, 1]², row-major like the images: [H*W, 2] as (x, y)."""
    t = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx, yy], -1).reshape(-1, 2)


def psnr(pred: torch.Tensor, target: torch.Tensor, dims=(-2, -1)) -> torch.Tensor:
    """PSNR in dB for values in [0, 1], reduced over `dims`."""
    mse = ((pred.clamp(0, 1) - target) ** 2).mean(dim=dims)
    return -10 * torch.log10(mse.clamp_min(1e-12))
