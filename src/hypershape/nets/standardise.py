"""Scales that put weight tensors of very different magnitudes on one footing: the RMS of each parameter
tensor, and the standardiser built on it. Used by the hypernetwork's weight loss (50), the autoencoder (60),
the mapper's inputs and targets (70) and the refinement's pull towards the predicted weights (80)."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

EPS = 1e-8
"""Floor of every scale we divide by. A tensor (or element) that never varies (e.g. a bias the data leaves
at zero) would otherwise divide by zero; 1e-8 is far below any real weight RMS or spread here (>= 1e-4),
so it changes nothing else, and far above float32's smallest normal numbers (~1e-38)."""


def tensor_rms(x: torch.Tensor | Iterable[torch.Tensor], sizes: list[int]) -> torch.Tensor:
    """RMS of each parameter tensor of flat weights x [..., P] (tensors of `sizes`, in order) over every
    leading index and every element of the tensor: [len(sizes)], floored at EPS.

    x may also be an iterable of rows [P] (e.g. a generator loading one object at a time, so that only one
    is in memory): the mean square is then accumulated row by row."""
    if isinstance(x, torch.Tensor):
        mean_square = torch.stack([t.pow(2).mean() for t in x.split(sizes, dim=-1)])
    else:
        total, n = torch.zeros(len(sizes)), 0
        for row in x:
            total += torch.stack([t.pow(2).mean() for t in row.split(sizes, dim=-1)]).cpu()
            n += 1
        mean_square = total / max(1, n)
    return mean_square.sqrt().clamp_min(EPS)


def per_element(scales: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """One value per tensor [len(sizes)] spread over the flat weight vector [P]."""
    return torch.repeat_interleave(scales, torch.tensor(sizes, device=scales.device))


def element_std(x: torch.Tensor) -> torch.Tensor:
    """Per-element standard deviation over the rows of x [N, D] (population, as the mean is), floored at EPS."""
    return x.std(0, unbiased=False).clamp_min(EPS)


class Standardiser(nn.Module):
    """x ↦ (x − mean) / scale with a per-element mean and, by default, one scale per parameter tensor:
    per-element scales from a few dozen objects would be noise, and the tensors' magnitudes differ by
    orders. `fit(x, per_element_scale=True)` gives every element its own scale (for the mapper's latent targets,
    whose components are not tensors of one network)."""

    def __init__(self, sizes: list[int]):
        super().__init__()
        self.sizes = list(sizes)
        total = sum(self.sizes)
        self.register_buffer("mean", torch.zeros(total))
        self.register_buffer("scale", torch.ones(total))

    @torch.no_grad()
    def fit(self, x: torch.Tensor, per_element_scale: bool = False) -> "Standardiser":
        self.mean.copy_(x.mean(0))
        if per_element_scale:
            self.scale.copy_(element_std(x))
        else:
            self.scale.copy_(per_element(tensor_rms(x - self.mean, self.sizes), self.sizes))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.scale + self.mean
