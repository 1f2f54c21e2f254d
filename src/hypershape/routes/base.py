"""The interface every route implements: what 70 makes from the training objects (and what its key reads),
the predictor 80 starts each object from, and the field a prediction stands for, which 80 refines and 90
meshes. A prediction is a flat parameter vector: a shape-SIREN's weights for the routes here, or the latent
of a shared shape decoder, whose route gives the decoder as its field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..nets.shape_decoder import ShapeDecoder, save_decoder
from ..nets.siren import SirenSpec, siren_eval, siren_field, siren_forward
from ..nets.standardise import per_element, tensor_rms
from ..objects import RunObject
from ..runtime import Stage
from ..stages.common import shape_spec, split_key


@dataclass
class TrainingSet:
    """What 70 hands a route: its stage, every listed object, those every upstream stage made (`usable`,
    with their upstream keys) and the usable training objects the readout learns from (`train_ids`)."""

    stage: Stage
    objects: list[RunObject]
    usable: list[RunObject]
    upstream: dict[str, dict]
    train_ids: list[str]

    @property
    def ids(self) -> list[str]:
        return [o.id for o in self.usable]

    def split(self) -> str:
        """Which objects are in which split: anything learnt from the train split depends on it."""
        return split_key(self.objects)

    def train_keys(self, *stages: str) -> list[tuple]:
        """(id, its key of each of `stages`) of every training object, sorted: what a route learns them from."""
        return sorted((i, *(self.upstream[i][s] for s in stages)) for i in self.train_ids)

    def hypernets(self) -> list[str]:
        """The keys of every usable object's hypernetwork (test objects' inputs are made in 70 too)."""
        return sorted(self.stage.upstream["50_hypernets"].key(i) for i in self.ids)


class Field:
    """Signed distance fields indexed by a flat parameter vector [P] (negative inside). sdf is what 80's
    refinement differentiates; evaluate and numpy are what view checks and 90's meshing read."""

    def sdf(self, params: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Values [N, 1] at points [N, 3], differentiable in params and points."""
        raise NotImplementedError

    def scale(self, params: torch.Tensor) -> torch.Tensor:
        """Per-parameter size [P]: refinement's pull towards the prediction is measured in it."""
        return torch.ones_like(params)

    def evaluate(self, params: torch.Tensor, points: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """sdf without gradients, `chunk` points at a time (None: all at once)."""
        with torch.no_grad():
            if not chunk or len(points) <= chunk:
                return self.sdf(params, points)
            return torch.cat([self.sdf(params, part) for part in points.split(chunk)])

    def numpy(self, params: torch.Tensor, device, chunk: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
        """The field of params on numpy points [n, 3] -> [n], as fitted (no clipping)."""
        params = params.to(device)

        def f(points: np.ndarray) -> np.ndarray:
            x = torch.as_tensor(np.asarray(points, dtype=np.float32), device=device)
            return self.evaluate(params, x, chunk)[:, 0].cpu().numpy()

        return f

    def describe(self) -> dict:
        """What a file of its parameters records beside them, so a reader can rebuild the field."""
        return {}


class SirenField(Field):
    """Params are a shape-SIREN's flat weights; the pull of refinement is per tensor, in units of its RMS."""

    def __init__(self, spec: SirenSpec, compiled: bool = False):
        self.spec, self.compiled = spec, compiled

    def sdf(self, params, points):
        return siren_forward(self.spec, params, points, self.compiled)

    def scale(self, params):
        return per_element(tensor_rms(params, self.spec.sizes), self.spec.sizes)

    def evaluate(self, params, points, chunk=None):
        return siren_eval(self.spec, params, points, chunk, self.compiled)

    def numpy(self, params, device, chunk=None):
        return siren_field(self.spec, params, device, chunk, self.compiled)

    def describe(self) -> dict:
        return dict(spec=self.spec)


class DecoderField(Field):
    """Params are one latent [L]; the field is the frozen shared decoder at it. The pull of refinement is
    per dimension, in units of the training latents' spread there."""

    def __init__(self, decoder: ShapeDecoder, codes: torch.Tensor | None = None):
        """codes: the training latents [N, L], whose spread is the pull's unit; None for a field that is only
        read (not refined): a unit spread."""
        self.decoder = decoder.requires_grad_(False)
        if codes is None:
            self.spread = torch.ones(decoder.latent)
        else:  # one training object: no spread (the sample std would be nan), every dimension counts alike
            self.spread = codes.std(0, correction=int(len(codes) > 1)).clamp_min(1e-6)

    def sdf(self, params, points):
        return self.decoder(params, points)[:, None]

    def scale(self, params):
        return self.spread.to(params.device)

    def describe(self) -> dict:
        """The decoder's sizes and weights (nets/shape_decoder.load_decoder rebuilds it): with a latent, the field."""
        return dict(decoder=save_decoder(self.decoder))


class Predictor:
    """What 80 starts from: predict(obj_id) gives the field parameters [P] read off the object's
    hypernetwork alone, and what the route records about how (a dict, may be empty). The record's `memory`
    is True where the parameters are the object's own training target, looked up rather than read (a
    training object retrieving itself); absent means False. 80 records it for every object and 90 counts it."""

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def __call__(self, obj_id: str) -> torch.Tensor:
        return self.predict(obj_id)[0]


class MapperRoute:
    """One route. Its name is its module's (routes/<name>.py defines ROUTE = an instance)."""

    @property
    def name(self) -> str:
        return type(self).__module__.rsplit(".", 1)[-1]

    def inputs(self, cfg, data: TrainingSet) -> tuple:
        """What 70's mapper.pt is made from besides the config (its key): upstream keys, the split."""
        raise NotImplementedError

    def make(self, cfg, data: TrainingSet) -> dict:
        """70: train or keep what the predictor reads, write it to paths.mapper; returns what 70 records."""
        raise NotImplementedError

    def read_objects(self, cfg, data: TrainingSet) -> dict:
        """70 of a readout_from run: make paths.mapper, another run's linked unchanged, read this run's
        objects (`data`) too; returns what 70 records. Here nothing: the predictor reads each object's
        hypernetwork itself."""
        return {}

    def predictor(self, cfg, paths, device) -> Predictor:
        """80: reads each object off its hypernetwork (and what make wrote)."""
        raise NotImplementedError

    def field(self, cfg, paths, device) -> Field:
        """The field a prediction's parameters stand for: a shape-SIREN unless the route says otherwise."""
        return SirenField(shape_spec(cfg), cfg.device.compile)

    def summary(self, records: list[dict]) -> str:
        """A line for 80's log about the predictions, from every object's record ('' for none)."""
        return ""
