"""The mapper: a hypernetwork's whole weight vector → a latent (one MLP) or shape-SIREN weights (one head per
tensor); routes/ say which.

An N=100 hypernetwork has ~18 M weights, so no learned layer can read them directly on a 24 GiB host.
The mapper first applies a fixed, seeded count sketch (feature hashing: every weight is added, with a
random sign, into one of k buckets). It is linear, sees every weight, keeps inner products in
expectation, and needs O(k) memory and no stored matrix; only the small network after it is trained."""

from __future__ import annotations

import torch
from torch import nn

from ..config import Heads
from .checkpoint import built_with
from .heads import WeightHeads, mlp
from .standardise import element_std

CHUNK = 1 << 20


def count_sketch(x: torch.Tensor, dim: int, seed: int) -> torch.Tensor:
    """Sketch rows x [B, P] to [B, dim]; the bucket and sign of each weight depend only on (seed, index)."""
    out = torch.zeros(x.shape[0], dim, dtype=x.dtype, device=x.device)
    for start in range(0, x.shape[1], CHUNK):
        part = x[:, start : start + CHUNK]
        g = torch.Generator().manual_seed(seed * 1_000_003 + start)
        idx = torch.randint(dim, (part.shape[1],), generator=g).to(x.device)
        sign = (torch.randint(2, (part.shape[1],), generator=g) * 2 - 1).to(x.device, x.dtype)
        out.index_add_(1, idx, part * sign)
    return out


class Mapper(nn.Module):
    """Standardised sketch → standardised target: one MLP to a vector (heads None: a latent), or weights
    emitted by WeightHeads (heads per_layer or monolithic). The target's (de)standardisation lives with the
    route that knows it (the latent statistics, or the weights' standardiser)."""

    def __init__(self, sketch_dim: int, hidden: int, out_sizes: list[int], heads: Heads | str | None = None):
        super().__init__()
        self.register_buffer("in_mean", torch.zeros(sketch_dim))
        self.register_buffer("in_std", torch.ones(sketch_dim))
        if heads is None:
            self.net = mlp(sketch_dim, hidden, sum(out_sizes))
        else:
            self.net = WeightHeads(sketch_dim, hidden, out_sizes, heads)

    @torch.no_grad()
    def fit_input(self, sketches: torch.Tensor) -> None:
        self.in_mean.copy_(sketches.mean(0))
        self.in_std.copy_(element_std(sketches))

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        return self.net((sketch - self.in_mean) / self.in_std)


def load_mapper(ckpt: dict, live, device) -> Mapper:
    """The mapper saved in `ckpt` (mapper.pt: out_sizes and heads as it was built), its architecture
    checked against `live` (cfg.mapper)."""
    c = built_with(ckpt, "mapper", live, "mapper.pt")
    m = Mapper(c.sketch_dim, c.hidden, ckpt["out_sizes"], ckpt["heads"]).to(device)
    m.load_state_dict(ckpt["state"])
    return m.eval()
