"""One shape decoder shared by every object: f(z, x) -> signed distance, z a small latent per object.

DeepSDF-style: an MLP on the latent concatenated with the point (here with a few Fourier features of the
point, so thin parts and sharp edges need fewer steps to appear), the input fed again into the middle
layer, softplus activations (smooth, so a silhouette's minimum along a ray has a useful gradient in z).
A plain MLP trains fast and steadily on a CPU at these sizes; the latent is a handful of numbers that a
readout can predict and a test-time fit can move."""

from __future__ import annotations

import math

import torch
from torch import nn

SOFTPLUS_BETA = 100.0
"""Softplus sharpness: close to ReLU (a piecewise-flat field is what an SDF is) while smooth."""


class ShapeDecoder(nn.Module):
    """f(z, x): latents z [B, L] (or [L]) and points x [B, N, 3] (or [N, 3], shared) -> sdf [B, N] (or [N])."""

    def __init__(self, latent: int, hidden: int, layers: int, frequencies: int):
        super().__init__()
        self.latent, self.hidden, self.layers, self.frequencies = latent, hidden, layers, frequencies
        self.register_buffer("bands", (2.0 ** torch.arange(frequencies)) * math.pi)
        width = latent + 3 + 6 * frequencies
        self.skip = layers // 2
        dims = [width] + [hidden] * layers
        self.hidden_layers = nn.ModuleList(
            nn.Linear(dims[i] + (width if i == self.skip and i > 0 else 0), dims[i + 1]) for i in range(layers)
        )
        self.out = nn.Linear(hidden, 1)
        self.act = nn.Softplus(beta=SOFTPLUS_BETA)

    @classmethod
    def of(cls, section) -> ShapeDecoder:
        """The decoder a config section (cfg.decoder) describes."""
        return cls(section.latent, section.hidden, section.layers, section.frequencies)

    def config(self) -> dict:
        return dict(latent=self.latent, hidden=self.hidden, layers=self.layers, frequencies=self.frequencies)

    def encode_points(self, x: torch.Tensor) -> torch.Tensor:
        """x beside sin and cos of each band times x: [..., 3 + 6 * frequencies]."""
        if not self.frequencies:
            return x
        angles = (x[..., None] * self.bands).flatten(-2)
        return torch.cat([x, angles.sin(), angles.cos()], -1)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        single = z.dim() == 1
        if single:
            z, x = z[None], x[None] if x.dim() == 2 else x
        if x.dim() == 2:
            x = x[None].expand(len(z), -1, -1)
        inp = torch.cat([z[:, None].expand(-1, x.shape[1], -1), self.encode_points(x)], -1)
        h = inp
        for i, layer in enumerate(self.hidden_layers):
            if i == self.skip and i > 0:
                h = torch.cat([h, inp], -1)
            h = self.act(layer(h))
        out = self.out(h)[..., 0]
        return out[0] if single else out


def save_decoder(decoder: ShapeDecoder) -> dict:
    """What a checkpoint holds of a decoder: its sizes and weights."""
    return dict(config=decoder.config(), state=decoder.state_dict())


def load_decoder(ckpt: dict, device=None) -> ShapeDecoder:
    """The decoder save_decoder wrote, rebuilt from its own sizes."""
    decoder = ShapeDecoder(**ckpt["config"])
    decoder.load_state_dict(ckpt["state"])
    return decoder.to(device) if device is not None else decoder
