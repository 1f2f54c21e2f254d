"""Weight-space autoencoder: a shape-SIREN's weights (anchor residual, standardised) ⇄ a small latent."""

from __future__ import annotations

import torch
from torch import nn

from ..config import Heads
from .checkpoint import built_with
from .heads import WeightHeads, mlp
from .siren import SirenSpec
from .standardise import Standardiser


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

    @classmethod
    def load(cls, ckpt: dict, live, anchor: torch.Tensor) -> "WeightAE":
        """The autoencoder saved in `ckpt` (weight_ae.pt), rebuilt from its own config and SIREN spec;
        `live` is cfg.weight_ae."""
        spec = SirenSpec(**ckpt["spec"])  # stored as a plain dict (weights_only loading)
        ae = cls.of(built_with(ckpt, "weight_ae", live, "weight_ae.pt"), spec, anchor).to(anchor.device)
        ae.load_state_dict(ckpt["state"])
        return ae
