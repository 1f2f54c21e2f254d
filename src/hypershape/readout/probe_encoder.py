"""The learned readout: an object's hypernetwork is read by what it draws, not by its weights. At each of
the 24 camera directions the hypernetwork emits an image-SIREN; each is drawn at a set of probe pixels
(a fixed grid, or positions learnt with the encoder), and a small network encodes the brightness values
into the shared decoder's latent. Trained on the training objects only: the squared error to their
auto-decoded latents (standardised) plus, through the frozen decoder, the clamped L1 on their SDF samples."""

from __future__ import annotations

import torch
from torch import nn

from ..nets.hypernet import HyperNet
from ..nets.shape_decoder import ShapeDecoder
from ..nets.siren import SirenSpec, pixel_grid, siren_forward
from ..runtime import generator, load_torch
from ..training import sdf_batch, train
from .autodecode import clamped_l1, sample_gens
from .probe import Prober


@torch.no_grad()
def emitted_sirens(prober: Prober, obj_id: str) -> torch.Tensor:
    """The image-SIRENs [V, P] the object's hypernetwork emits at the probe cameras' directions."""
    path = prober.paths.hypernet(obj_id)
    net = HyperNet.load(load_torch(path), prober.cfg.hypernet, prober.spec, prober.base, str(path))
    return net(prober.directions)


class ProbeEncoder(nn.Module):
    """Emitted image-SIRENs [B, V, P] -> latents [B, L]: brightness (mean RGB, as readout/probe draws it) at
    the probe pixels, standardised with the training objects' statistics, through an MLP whose output is
    the standardised latent; the latents' mean and scale turn it back."""

    def __init__(self, spec: SirenSpec, views: int, resolution: int, hidden: int, latent: int, learn_probes: bool):
        super().__init__()
        self.spec = spec
        grid = pixel_grid(resolution)
        self.probes = nn.Parameter(grid, requires_grad=learn_probes)
        size = views * len(grid)
        for name, n in (("in_mean", size), ("in_scale", size), ("out_mean", latent), ("out_scale", latent)):
            self.register_buffer(name, torch.zeros(n) if "mean" in name else torch.ones(n))
        self.mlp = nn.Sequential(
            nn.Linear(size, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, latent)
        )

    def draw(self, sirens: torch.Tensor) -> torch.Tensor:
        """Brightness of every emitted SIREN at the probe pixels: [B, V, P] -> [B, V * M]."""
        b, v, _ = sirens.shape
        return siren_forward(self.spec, sirens.reshape(b * v, -1), self.probes).mean(-1).reshape(b, -1)

    @torch.no_grad()
    def fit_scales(self, sirens: torch.Tensor, latents: torch.Tensor) -> None:
        """Input and output statistics of the training objects (a floor keeps constant inputs finite)."""
        x = self.draw(sirens)
        self.in_mean.copy_(x.mean(0))
        self.in_scale.copy_(x.std(0, unbiased=False).clamp_min(1e-3))
        self.out_mean.copy_(latents.mean(0))
        self.out_scale.copy_(latents.std(0, unbiased=False).clamp_min(1e-6))

    def standardised(self, sirens: torch.Tensor) -> torch.Tensor:
        """The standardised latent the MLP predicts."""
        return self.mlp((self.draw(sirens) - self.in_mean) / self.in_scale)

    def from_inputs(self, drawn: torch.Tensor) -> torch.Tensor:
        """Latents [B, L] from brightness already drawn at the probes (draw's output [B, V * M])."""
        return self.mlp((drawn - self.in_mean) / self.in_scale) * self.out_scale + self.out_mean

    def forward(self, sirens: torch.Tensor) -> torch.Tensor:
        return self.from_inputs(self.draw(sirens))


def train_readout(
    sirens: torch.Tensor,
    latents: torch.Tensor,
    decoder: ShapeDecoder,
    data: list[tuple[torch.Tensor, torch.Tensor]],
    ids: list[str],
    spec: SirenSpec,
    c,
    seed: int,
) -> tuple[ProbeEncoder, list[float]]:
    """A ProbeEncoder trained on the training objects' emitted SIRENs [B, V, P] to their auto-decoded
    latents [B, L] and, with c.function_weight, through the frozen decoder on the SDF samples (c.points a step
    each) of c.readout_batch_objects of them per step. Seeded by `seed`. Returns the encoder (eval mode, no
    gradients) and the loss curve."""
    dev = sirens.device
    torch.manual_seed(seed)
    enc = ProbeEncoder(spec, sirens.shape[1], c.probe_resolution, c.readout_hidden, c.latent, c.learn_probes)
    enc = enc.to(dev)
    enc.fit_scales(sirens, latents)
    target = (latents - enc.out_mean) / enc.out_scale
    decoder.requires_grad_(False)
    gens = sample_gens(seed, "readout", ids)
    pick = generator(seed, "readout-objects")
    size = min(c.readout_batch_objects or len(data), len(data))

    def loss(step):
        pred = enc.standardised(sirens)
        total = ((pred - target) ** 2).mean()
        if c.function_weight > 0:
            # all objects in order when they fit, so a small training set draws nothing extra
            rows = torch.randperm(len(data), generator=pick)[:size].tolist() if size < len(data) else list(range(size))
            x, y = sdf_batch([data[r] for r in rows], c.points, [gens[r] for r in rows], dev)
            z = pred[rows] * enc.out_scale + enc.out_mean
            total = total + c.function_weight * clamped_l1(decoder(z, x), y, c.clamp).mean()
        return total

    params = [p for p in enc.parameters() if p.requires_grad]
    curve = train(
        params, loss, c.readout_steps, c.readout_lr, weight_decay=c.readout_weight_decay, desc="readout", shared=True
    )
    return enc.eval().requires_grad_(False), curve
