"""Retrieval: the target shape-SIREN of the training object nearest in some input space (a route's features
in mapper.pt). A candidate of route hybrid and the baseline every readout table carries."""

from __future__ import annotations

import torch

from ..routes.base import Predictor
from ..runtime import load_torch


def nearest_train(features: dict, train_ids: list[str], obj_id: str, include_self: bool = False) -> str:
    """The train object whose features (e.g. hypernetwork sketch) are nearest to obj_id's; obj_id itself
    only with include_self (a lookup over the training set returns a training object's own entry)."""
    cands = [i for i in train_ids if include_self or i != obj_id]
    x = features[obj_id]
    d = torch.stack([(features[i] - x).norm() for i in cands])
    return cands[int(d.argmin())]


class RetrievalPredictor(Predictor):
    """The target shape-SIREN of the training object nearest in the input space of the route whose 70 wrote
    mapper.pt, the object itself included: a lookup over the training set. Records its id, and memory where
    it is the object itself."""

    def __init__(self, paths, device):
        ckpt = load_torch(paths.mapper)
        self.features, self.train_ids = ckpt["features"], ckpt["train_ids"]
        self.paths, self.device = paths, device

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        nn = nearest_train(self.features, self.train_ids, obj_id, include_self=True)
        return load_torch(self.paths.target(nn))["flat"].to(self.device), dict(retrieved=nn, memory=nn == obj_id)
