"""Route latent: the mapper (readout/learned.py) maps a hypernetwork's sketch to the object's latent in 60's
weight autoencoder, and the autoencoder's decoder turns that latent into shape-SIREN weights."""

from __future__ import annotations

import torch

from ..nets.standardise import Standardiser
from ..nets.weight_ae import WeightAE
from ..readout.learned import LearnedRoute
from ..runtime import load_torch


class Latent(LearnedRoute):
    output = "latent"

    def targets(self, cfg, paths, examples, anchor):
        latents = load_torch(paths.latents)["latents"]
        y = torch.stack([latents[i] for i in examples]).to(anchor.device)
        return y, Standardiser([y.shape[1]]).to(anchor.device).fit(y, per_element_scale=True)

    def weights(self, cfg, paths, anchor):
        # frozen: the function-space term trains the mapper through the decoder, never the decoder
        return WeightAE.load(load_torch(paths.weight_ae), cfg.weight_ae, anchor).requires_grad_(False).decode


ROUTE = Latent()
