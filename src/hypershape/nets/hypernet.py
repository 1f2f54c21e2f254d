"""The per-object hypernetwork: unit camera direction → the weights of that view's image-SIREN."""

from __future__ import annotations

import torch
from torch import nn

from ..config import Heads
from .checkpoint import built_with
from .heads import WeightHeads
from .siren import SirenSpec


class HyperNet(nn.Module):
    """Emits base + heads(direction): with the last layers scaled small at init it starts out emitting
    the anchor image-SIREN (`base`) for every direction, and learns the per-view residual."""

    def __init__(self, target: SirenSpec, hidden: int, heads: Heads, base: torch.Tensor, last_scale: float = 0.01):
        super().__init__()
        self.target = target
        self.heads = WeightHeads(3, hidden, target.sizes, heads, last_scale)
        self.register_buffer("base", base.clone().float())

    def forward(self, directions: torch.Tensor) -> torch.Tensor:
        return self.base + self.heads(directions)

    @classmethod
    def of(cls, section, target: SirenSpec, base: torch.Tensor) -> "HyperNet":
        return cls(target, section.hidden, section.heads, base, section.last_scale)

    @classmethod
    def load(cls, ckpt: dict, live, target: SirenSpec, base: torch.Tensor, name: str) -> "HyperNet":
        """The hypernetwork saved in `ckpt` (the file `name`), rebuilt from its own config; `live` is
        cfg.hypernet."""
        net = cls.of(built_with(ckpt, "hypernet", live, name), target, base).to(base.device)
        net.load_state_dict(ckpt["state"])
        return net
