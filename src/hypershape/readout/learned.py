"""The learned mapper that routes latent and direct (and hybrid, through latent) share: 70 trains it on the
training objects, 80 reads every object with it.

Input: each object's whole hypernetwork weight vector, as its residual from the anchor hypernetwork, every
tensor divided by its RMS over the training objects, then count-sketched (nets/mapper.py). Output: the
standardised target its route names (route latent: the autoencoder latent; route direct: the shape-SIREN's
residual from the anchor). Loss: the squared error of that output, plus, with mapper.function_weight > 0,
that weight times the mean |f - sdf| of the predicted shape-SIREN (through the frozen decoder for latent) at
a fixed subset of each training object's own 02 SDF samples."""

from __future__ import annotations

from typing import Callable

import torch

from ..config import readout_seed, section
from ..errors import UserError
from ..nets.mapper import Mapper, count_sketch, load_mapper
from ..nets.standardise import Standardiser, per_element, tensor_rms
from ..routes.base import MapperRoute, Predictor, TrainingSet
from ..runtime import generator, load_torch, numerics_of, save_torch, seed_of
from ..stages.common import load_samples, shape_spec
from ..training import sdf_l1, train

Weights = Callable[[torch.Tensor], torch.Tensor]
"""Destandardised mapper outputs [B, D] -> shape-SIREN weights [B, P], differentiably."""


def hypernet_vector(state: dict) -> tuple[torch.Tensor, list[int]]:
    """A hypernetwork's trainable weights as one vector (the anchor SIREN buffer left out), and tensor sizes."""
    tensors = [v.reshape(-1).float() for k, v in state.items() if k != "base"]
    return torch.cat(tensors), [t.numel() for t in tensors]


def hypernet_features(
    paths, ids: list[str], train_ids: list[str], dim: int, seed: int, copies: int = 1
) -> tuple[dict, torch.Tensor, list[tuple[str, torch.Tensor]]]:
    """Sketches of every object's hypernetwork residual; one object in memory at a time (an N=100
    hypernetwork is 72 MB). Returns {id: sketch}, the per-tensor scales (fitted on train_ids' first copies)
    and [(id, sketch)] of the train objects' other copies (hypernet.copies: more training examples)."""
    anchor, sizes = hypernet_vector(load_torch(paths.hypernet_anchor)["state"])
    scale = tensor_rms((hypernet_vector(load_torch(paths.hypernet(i))["state"])[0] - anchor for i in train_ids), sizes)
    sketch = hypernet_sketch(paths, scale, dim, seed)
    feats = {i: sketch(paths.hypernet(i)) for i in ids}
    extra = [(i, sketch(paths.hypernet(i, k))) for i in train_ids for k in range(1, copies)]
    return feats, scale, extra


def hypernet_sketch(paths, scale: torch.Tensor, dim: int, seed: int) -> Callable[[object], torch.Tensor]:
    """path of a hypernetwork -> the count sketch [dim] of its residual from the anchor hypernetwork, each
    tensor divided by its entry of `scale` (per-tensor RMS over the training objects)."""
    anchor, sizes = hypernet_vector(load_torch(paths.hypernet_anchor)["state"])
    full = per_element(scale, sizes)

    def sketch(path) -> torch.Tensor:
        return count_sketch(((hypernet_vector(load_torch(path)["state"])[0] - anchor) / full)[None], dim, seed)[0]

    return sketch


def function_samples(cfg, paths, ids: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
    """The SDF samples the function-space term reads: mapper.function_points of each object's 02 samples,
    drawn once without replacement from the object's own generator: points [B, N, 3], sdf [B, N]."""
    points, sdf = [], []
    for i in ids:
        x, y = load_samples(paths, i)
        pick = torch.randperm(len(x), generator=generator(cfg.seed, "mapper-function", i))[: cfg.mapper.function_points]
        points.append(x[pick])
        sdf.append(y[pick])
    return torch.stack(points).to(device), torch.stack(sdf).to(device)


class LearnedRoute(MapperRoute):
    """A route whose 70 trains the mapper on the training objects. Subclasses say what it maps to."""

    output = ""
    """What the mapper's output stands for (mapper.pt's `route`): latent or direct."""

    def targets(self, cfg, paths, examples: list[str], anchor: torch.Tensor) -> tuple[torch.Tensor, Standardiser]:
        """The raw targets [len(examples), D] of the training examples and a Standardiser fitted on them."""
        raise NotImplementedError

    def weights(self, cfg, paths, anchor: torch.Tensor) -> Weights:
        """How a destandardised output becomes shape-SIREN weights."""
        raise NotImplementedError

    def heads(self, cfg):
        """The mapper's heads (nets/mapper.Mapper): None for one MLP to a vector."""
        return None

    def inputs(self, cfg, data: TrainingSet) -> tuple:
        up50, up60 = data.stage.upstream["50_hypernets"], data.stage.upstream["60_weight_ae"]
        inputs = (
            data.split(),
            up60.key("latents", shared=True),
            sorted((i, up50.key(i), up60.key(i)) for i in data.train_ids),
            data.hypernets(),
        )
        if cfg.mapper.function_weight > 0:  # the term reads the training objects' SDF samples
            inputs += (data.train_keys("02_watertight"),)
        return inputs

    def make(self, cfg, data: TrainingSet) -> dict:
        p, c, num = data.stage.paths, cfg.mapper, numerics_of(cfg)
        dev = num.device
        seed = seed_of(cfg.seed, "sketch")
        copies = cfg.hypernet.copies
        feats, hyper_scale, extra = hypernet_features(p, data.ids, data.train_ids, c.sketch_dim, seed, copies)
        examples = data.train_ids + [i for i, _ in extra]  # an object's other hypernetworks map to its same target
        x = torch.stack([feats[i] for i in data.train_ids] + [f for _, f in extra]).to(dev)
        anchor = load_torch(p.shape_anchor)["flat"].to(dev)
        y_raw, out_norm = self.targets(cfg, p, examples, anchor)
        y = out_norm(y_raw)
        torch.manual_seed(readout_seed(cfg))
        mapper = Mapper(c.sketch_dim, c.hidden, out_norm.sizes, self.heads(cfg)).to(dev)
        mapper.fit_input(x)
        function = self.function_term(cfg, data, examples, out_norm, anchor) if c.function_weight > 0 else None

        def loss(s):
            out = mapper(x)
            total = ((out - y) ** 2).mean()
            return total + c.function_weight * function(out) if function else total

        desc = f"mapper ({self.output})"
        curve = train(
            mapper.parameters(), loss, c.steps, c.lr, weight_decay=c.weight_decay, desc=desc, numerics=num, shared=True
        )
        data.stage.keep_shared_curve("mapper", curve)
        save_torch(
            p.mapper,
            dict(
                state=mapper.state_dict(),
                route=self.output,
                heads=self.heads(cfg),
                out_sizes=out_norm.sizes,
                out_norm=out_norm.state_dict(),
                hyper_scale=hyper_scale,
                sketch_seed=seed,
                features={i: f.cpu() for i, f in feats.items()},
                train_ids=data.train_ids,
                config=section(cfg, "mapper"),
            ),
        )
        n = len(data.train_ids)
        info = dict(loss_first=curve[0], loss_last=curve[-1], train=n, examples=len(examples), train_ids=data.train_ids)
        if function:
            with torch.no_grad():
                info["sdf_l1_last"] = float(function(mapper(x)))
        self.log(cfg, data, info)
        return info

    def read_objects(self, cfg, data: TrainingSet) -> dict:
        """The mapper's features gain this run's objects' sketches, drawn as its own 70 drew its objects'
        (its per-tensor scales and sketch seed); the mapper and its training objects' features stay as they
        are. An id of a training object would replace that object's features, so it is an error."""
        path = data.stage.paths.mapper
        ckpt = load_torch(path)
        same = sorted(set(data.ids) & set(ckpt["features"]))
        if same:
            raise UserError(
                f"readout_from={cfg.readout_from}: object {same[0]} (and {len(same) - 1} more) has the id of an "
                "object of that run: rename the mesh files"
            )
        sketch = hypernet_sketch(data.stage.paths, ckpt["hyper_scale"], cfg.mapper.sketch_dim, ckpt["sketch_seed"])
        mine = {i: sketch(data.stage.paths.hypernet(i)) for i in data.ids}
        save_torch(path, dict(ckpt, features={**ckpt["features"], **mine}))
        return dict(read=len(data.ids))

    def function_term(self, cfg, data: TrainingSet, examples: list[str], out_norm: Standardiser, anchor):
        """mapper output [B, D] -> the mean |f - sdf| of the shape-SIRENs it stands for at each training
        example's own samples (an object's copies share its samples)."""
        p, dev, ids = data.stage.paths, anchor.device, data.train_ids
        weights, spec = self.weights(cfg, p, anchor), shape_spec(cfg)
        points, sdf = function_samples(cfg, p, ids, dev)
        row = torch.tensor([ids.index(i) for i in examples], device=dev)
        points, sdf = points[row], sdf[row]
        compiled = cfg.device.compile
        return lambda out: sdf_l1(spec, weights(out_norm.inverse(out)), points, sdf, compiled).mean()

    def log(self, cfg, data: TrainingSet, info: dict) -> None:
        said = ""
        if "sdf_l1_last" in info:
            weight = cfg.mapper.function_weight
            said = f"; sdf L1 at their samples {info['sdf_l1_last']:.4g} (x function_weight {weight:g})"
        data.stage.log.info(
            "mapper (%s) on %d train objects (%d hypernetworks): loss %.4g -> %.4g%s",
            self.output,
            info["train"],
            info["examples"],
            info["loss_first"],
            info["loss_last"],
            said,
        )

    def predictor(self, cfg, paths, device) -> Predictor:
        return MapperPredictor(cfg, paths, device, self)


class MapperPredictor(Predictor):
    """The shape-SIREN weights the trained mapper gives an object from its hypernetwork's sketch, through
    its route's `weights`. The mapper is rebuilt from its own checkpoint, checked against the live cfg."""

    def __init__(self, cfg, paths, device, route: LearnedRoute):
        ckpt = load_torch(paths.mapper)
        self.features = ckpt["features"]
        self.mapper = load_mapper(ckpt, cfg.mapper, device)
        self.out_norm = Standardiser(ckpt["out_sizes"]).to(device)
        self.out_norm.load_state_dict(ckpt["out_norm"])
        self.weights = route.weights(cfg, paths, load_torch(paths.shape_anchor)["flat"].to(device))
        self.device = device

    @torch.no_grad()
    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        y = self.out_norm.inverse(self.mapper(self.features[obj_id][None].to(self.device)))
        return self.weights(y)[0], {}
