"""Auto-decoding (DeepSDF): one latent per training object and the shared decoder, optimised together on
the objects' SDF samples (clamped L1), with a Gaussian prior on the latents so that they stay in one
small, smooth region the decoder has learnt to read. A new object's latent is fitted the same way with the
decoder frozen."""

from __future__ import annotations

import numpy as np
import torch

from ..nets.shape_decoder import ShapeDecoder
from ..runtime import generator
from ..training import sdf_batch, train


def clamped_l1(pred: torch.Tensor, sdf: torch.Tensor, clamp: float) -> torch.Tensor:
    """DeepSDF's |clamp(pred) - clamp(sdf)|, mean per object over its points ([B, N] -> [B]): only the
    band |sdf| < clamp is fitted exactly, beyond it the prediction need only lie beyond the band on the
    same side. Written so that a prediction on the wrong side beyond the band still has a gradient (the
    literal formula has none there, and a decoder whose start lies beyond the band never moves)."""
    band = sdf.abs() < clamp
    beyond = torch.relu(clamp - pred * sdf.sign())
    return torch.where(band, (pred - sdf).abs(), beyond).mean(-1)


def prior(z: torch.Tensor) -> torch.Tensor:
    """The Gaussian prior's negative log-likelihood up to scale: ||z||^2 per latent, averaged."""
    return (z**2).sum(-1).mean()


def sample_gens(seed: int, tag: str, ids: list[str]) -> list[torch.Generator]:
    """One generator per object for the SDF samples its steps draw (see training.sdf_batch)."""
    return [generator(seed, tag, i) for i in ids]


def autodecode(
    data: list[tuple[torch.Tensor, torch.Tensor]], ids: list[str], c, seed: int, device
) -> tuple[ShapeDecoder, torch.Tensor, list[float]]:
    """The decoder (cfg.decoder sizes) and one latent per object [B, L], fitted together for c.steps on
    c.points SDF samples of c.batch_objects objects per step (all when 0): clamped L1 plus c.prior_weight
    times the prior. Seeded by `seed` (init, the objects and points each step draws). Returns the loss curve."""
    torch.manual_seed(seed)
    decoder = ShapeDecoder.of(c).to(device)
    codes = torch.randn(len(data), c.latent, generator=generator(seed, "codes")) * (c.init_norm / c.latent**0.5)
    codes = codes.to(device)
    codes.requires_grad_(True)
    gens = sample_gens(seed, "autodecode", ids)
    pick = generator(seed, "autodecode-objects")
    size = min(c.batch_objects or len(data), len(data))

    def loss(step):
        rows = torch.randperm(len(data), generator=pick)[:size].tolist()
        x, y = sdf_batch([data[r] for r in rows], c.points, [gens[r] for r in rows], device)
        z = codes[rows]
        return clamped_l1(decoder(z, x), y, c.clamp).mean() + c.prior_weight * prior(z)

    groups = [dict(params=list(decoder.parameters()), lr=c.lr), dict(params=[codes], lr=c.latent_lr)]
    curve = train(groups, loss, c.steps, c.lr, desc="auto-decode", shared=True)
    return decoder.requires_grad_(False), codes.detach(), curve


def fit_latent(
    decoder: ShapeDecoder, points: torch.Tensor, sdf: torch.Tensor, c, gen: torch.Generator, init=None
) -> tuple[torch.Tensor, list[float]]:
    """One object's latent [L] fitted to its SDF samples with the decoder frozen (c.fit_steps at c.fit_lr,
    c.points samples a step from `gen`), from `init` or the prior's mean: the same loss as auto-decoding."""
    dev = next(decoder.parameters()).device
    z = (torch.zeros(decoder.latent) if init is None else init.detach().clone()).to(dev).requires_grad_(True)
    decoder.requires_grad_(False)

    def loss(step):
        x, y = sdf_batch([(points, sdf)], c.points, [gen], dev)
        return clamped_l1(decoder(z[None], x), y, c.clamp).mean() + c.prior_weight * prior(z[None])

    curve = train([z], loss, c.fit_steps, c.fit_lr, desc="fit latent")
    return z.detach(), curve


@torch.no_grad()
def inside_share(decoder: ShapeDecoder, z: torch.Tensor, points: torch.Tensor) -> float:
    """Share of `points` (uniform in a region) where the decoded field is negative: the shape's volume
    as a fraction of that region's."""
    return float((decoder(z, points) < 0).float().mean())


def midpoint_volumes(decoder: ShapeDecoder, codes: torch.Tensor, pairs, points: torch.Tensor) -> list[dict]:
    """For each pair (i, j) of latents: the inside share of each end and of the decoded midpoint, and
    whether the midpoint's lies between the ends' (a shape between the two, not a collapse or a blow-up)."""
    out = []
    for i, j in pairs:
        a, b = inside_share(decoder, codes[i], points), inside_share(decoder, codes[j], points)
        m = inside_share(decoder, (codes[i] + codes[j]) / 2, points)
        out.append(dict(a=i, b=j, volume_a=a, volume_b=b, volume_mid=m, between=bool(min(a, b) <= m <= max(a, b))))
    return out


def uniform_points(n: int, bound: float, seed: int) -> torch.Tensor:
    """n points uniform in [-bound, bound]^3, seeded."""
    return torch.from_numpy(np.random.default_rng(seed).uniform(-bound, bound, (n, 3)).astype(np.float32))
