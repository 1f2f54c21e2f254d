"""Networks that emit SIREN weights: one head per parameter tensor (per_layer) or one for all (monolithic).

Used by the hypernetwork, the autoencoder's decoder and the direct mapper, so the per-layer vs
monolithic comparison is the same switch everywhere."""

from __future__ import annotations

import torch
from torch import nn

from ..config import Heads


def mlp(in_dim: int, hidden: int, out_dim: int, depth: int = 2, last_scale: float = 1.0) -> nn.Sequential:
    """in → hidden (ReLU) × depth → out; the last layer scaled by last_scale at init."""
    layers, d = [], in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    last = nn.Linear(d, out_dim)
    with torch.no_grad():
        last.weight.mul_(last_scale)
        last.bias.mul_(last_scale)
    return nn.Sequential(*layers, last)


class WeightHeads(nn.Module):
    """in_dim features → a flat weight vector of the given tensor sizes."""

    def __init__(self, in_dim: int, hidden: int, sizes: list[int], heads: Heads, last_scale: float = 1.0):
        super().__init__()
        self.sizes = list(sizes)
        self.heads_kind = Heads(heads)
        outs = self.sizes if self.heads_kind == Heads.per_layer else [sum(self.sizes)]
        self.heads = nn.ModuleList(mlp(in_dim, hidden, n, last_scale=last_scale) for n in outs)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([h(z) for h in self.heads], dim=-1)


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
