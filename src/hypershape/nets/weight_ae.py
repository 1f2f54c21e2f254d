"""Weight-space autoencoder: a shape-SIREN's weights (anchor residual, standardised) ⇄ a small latent."""
from __future__ import annotations

import torch
from torch import nn

from ..config import Heads
from .heads import WeightHeads, mlp
from .siren import SirenSpec


class Standardiser(nn.Module):
    """x ↦ (x − mean) / scale with a per-element mean and one scale per parameter tensor: per-element
    scales from a few dozen objects would be noise, and the tensors' magnitudes differ by orders."""

    def __init__(self, sizes: list[int]):
        super().__init__()
        self.sizes = list(sizes)
        total = sum(self.sizes)
        self.register_buffer("mean", torch.zeros(total))
        self.register_buffer("scale", torch.ones(total))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> "Standardiser":
        self.mean.copy_(x.mean(0))
        centred = x - self.mean
        scales = [c.pow(2).mean().sqrt().clamp_min(1e-8) for c in centred.split(self.sizes, dim=-1)]
        self.scale.copy_(torch.cat([s.expand(n) for s, n in zip(scales, self.sizes)]))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.scale + self.mean


class WeightAE(nn.Module):
    """encode: weights → latent; decode: latent → weights (the decoder's heads per tensor or monolithic)."""

    def __init__(self, spec: SirenSpec, anchor: torch.Tensor, latent: int, hidden: int, heads: Heads):
        super().__init__()
        self.spec = spec
        self.register_buffer("anchor", anchor.clone().float())
        self.norm = Standardiser(spec.sizes)
        self.encoder = mlp(spec.numel, hidden, latent)
        self.decoder = WeightHeads(latent, hidden, spec.sizes, heads)

    def fit_standardiser(self, weights: torch.Tensor) -> None:
        self.norm.fit(weights - self.anchor)

    def encode(self, weights: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.norm(weights - self.anchor))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.anchor + self.norm.inverse(self.decoder(z))

    @classmethod
    def of(cls, section, spec: SirenSpec, anchor: torch.Tensor) -> "WeightAE":
        return cls(spec, anchor, section.latent, section.hidden, section.heads)
