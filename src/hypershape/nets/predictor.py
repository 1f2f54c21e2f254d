"""The inference API of a trained pipeline: the shape-SIREN weights an object's images give, through its
hypernetwork's sketch, the mapper and (route=latent) the autoencoder's decoder. Stage 80 starts from it."""

from __future__ import annotations

import torch

from ..config import Route
from ..runtime import load_torch
from .mapper import load_mapper
from .standardise import Standardiser
from .weight_ae import WeightAE


class ShapePredictor:
    """The shape-SIREN weights the trained mapper (and, for route=latent, the decoder) gives an object
    from its hypernetwork alone. Every network is rebuilt from its own checkpoint's config, checked
    against the live `cfg`."""

    def __init__(self, cfg, paths, device):
        ckpt = load_torch(paths.mapper)
        self.route, self.features = Route(ckpt["route"]), ckpt["features"]
        self.mapper = load_mapper(ckpt, cfg.mapper, device)
        self.out_norm = Standardiser(ckpt["out_sizes"]).to(device)
        self.out_norm.load_state_dict(ckpt["out_norm"])
        self.anchor = load_torch(paths.shape_anchor)["flat"].to(device)
        self.device = device
        if self.route == Route.latent:
            self.ae = WeightAE.load(load_torch(paths.weight_ae), cfg.weight_ae, self.anchor)

    @torch.no_grad()
    def __call__(self, obj_id: str) -> torch.Tensor:
        y = self.out_norm.inverse(self.mapper(self.features[obj_id][None].to(self.device)))
        return (self.anchor + y)[0] if self.route == Route.direct else self.ae.decode(y)[0]
