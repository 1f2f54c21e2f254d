"""The inference API of a trained pipeline: the shape-SIREN weights an object's images give, read off its
hypernetwork alone. Stage 80 starts from it. Routes latent and direct pass the hypernetwork's sketch
through the trained mapper (and, for latent, the autoencoder's decoder); route probe draws the views the
hypernetwork emits, carves their visual hull and fits a shape-SIREN to the hull's SDF; route hybrid makes
both latent's and probe's predictions and keeps the one whose rendered views are closer to the views the
hypernetwork draws."""

from __future__ import annotations

import torch

from ..config import Route
from ..geometry.carve import visual_hull
from ..geometry.marching import mesh_from_sdf
from ..geometry.sdf import sample_sdf
from ..runtime import generator, load_torch, numerics_of, rng
from ..training import fit_sdf
from .mapper import load_mapper
from .probe import Prober, view_error
from .siren import SirenSpec, siren_field
from .standardise import Standardiser
from .weight_ae import WeightAE


class Predictor:
    """What 80 starts from: predict(obj_id) gives the shape-SIREN weights [P] read off the object's
    hypernetwork alone, and what the route records about how (a dict, may be empty)."""

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def __call__(self, obj_id: str) -> torch.Tensor:
        return self.predict(obj_id)[0]


class ShapePredictor(Predictor):
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
    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        y = self.out_norm.inverse(self.mapper(self.features[obj_id][None].to(self.device)))
        return ((self.anchor + y)[0] if self.route == Route.direct else self.ae.decode(y)[0]), {}


def nearest_train(features: dict, train_ids: list[str], obj_id: str, include_self: bool = False) -> str:
    """The train object whose features (e.g. hypernetwork sketch) are nearest to obj_id's; obj_id itself
    only with include_self (a lookup over the training set returns a training object's own entry)."""
    cands = [i for i in train_ids if include_self or i != obj_id]
    x = features[obj_id]
    d = torch.stack([(features[i] - x).norm() for i in cands])
    return cands[int(d.argmin())]


class RetrievalPredictor(Predictor):
    """The target shape-SIREN of the training object nearest in the trained mapper's input space (the
    hypernetwork sketch), the object itself included: a lookup over the training set. Records its id."""

    def __init__(self, paths, device):
        ckpt = load_torch(paths.mapper)
        self.features, self.train_ids = ckpt["features"], ckpt["train_ids"]
        self.paths, self.device = paths, device

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        nn = nearest_train(self.features, self.train_ids, obj_id, include_self=True)
        return load_torch(self.paths.target(nn))["flat"].to(self.device), dict(retrieved=nn)


class ProbePredictor(Predictor):
    """Route probe: the hypernetwork's views at the cameras' directions, drawn at mapper.probe.upsample
    times the render resolution, thresholded into outlines; their visual hull on a grid; SDF samples of
    the hull drawn as 02 draws them from a solid (cfg.data); a shape-SIREN fitted to them from the shape
    anchor as 60 fits a target (cfg.shape_siren). Nothing is trained on other objects."""

    def __init__(self, cfg, paths, device, image_spec: SirenSpec, shape_spec: SirenSpec, seed: int):
        self.cfg, self.seed, self.shape_spec = cfg, seed, shape_spec
        self.probe = cfg.mapper.probe
        self.prober = Prober(cfg, paths, image_spec, device)
        self.anchor = load_torch(paths.shape_anchor)["flat"].to(device)

    def hull(self, obj_id: str):
        """The visual hull (a trimesh; empty if the outlines share no point) of the object's hypernetwork."""
        images = self.prober.images(obj_id, self.probe.upsample * self.cfg.render.resolution)
        return visual_hull(
            images.cpu(),
            self.prober.poses,
            self.cfg.render.yfov_deg,
            self.probe.threshold,
            self.probe.resolution,
            self.cfg.reconstruct.bound,
        )

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        hull = self.hull(obj_id)
        if len(hull.faces) == 0:
            raise ValueError(f"{obj_id}: the probed outlines (threshold {self.probe.threshold}) share no point")
        d, bound = self.cfg.data, self.cfg.reconstruct.bound
        s = sample_sdf(
            hull,
            d.sdf_pool,
            d.sdf_samples,
            d.surface_samples,
            d.beta,
            rng(self.seed, "probe", obj_id),
            d.uniform_samples,
            bound,
        )
        data = [(torch.from_numpy(s["points"]), torch.from_numpy(s["sdf"]))]
        flat, _ = fit_sdf(
            self.shape_spec,
            self.anchor[None],
            data,
            [generator(self.seed, "probe", obj_id)],
            self.cfg.shape_siren,
            f"{obj_id} (probe)",
            numerics_of(self.cfg),
        )
        return flat[0], {}


class HybridPredictor(Predictor):
    """Route hybrid: three candidates, each marched at mapper.probe.resolution and rendered from the 24
    cameras as 03 renders; the prediction is the one whose brightness is closest (mean |difference|,
    nets/probe.view_error) to the views the hypernetwork draws. latent: the trained mapper and decoder;
    probe: the hull's fit; retrieval: the nearest training object's target (on a training object, its own:
    memory, not reading). Where an object is like a training object its shape draws the views back,
    concavities included; where none is, the hull's outlines win. Of the object only its hypernetwork is
    read. Records the choice and every view error; a candidate that cannot be made (outlines that share no
    point) is left out."""

    def __init__(self, cfg, paths, device, image_spec: SirenSpec, shape_spec: SirenSpec, seed: int):
        self.cfg, self.shape_spec, self.device = cfg, shape_spec, device
        self.candidates = dict(
            latent=ShapePredictor(cfg, paths, device),
            probe=ProbePredictor(cfg, paths, device, image_spec, shape_spec, seed),
            retrieval=RetrievalPredictor(paths, device),
        )

    def view_error(self, flat: torch.Tensor, images: torch.Tensor) -> float:
        c = self.cfg
        field = siren_field(self.shape_spec, flat, self.device, c.device.eval_chunk, c.device.compile)
        return view_error(mesh_from_sdf(field, c.mapper.probe.resolution, c.reconstruct.bound), images, c.render)

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        images = self.candidates["probe"].prober.images(obj_id, self.cfg.render.resolution)
        flats, info = {}, {}
        for name, predictor in self.candidates.items():
            try:
                flats[name], how = predictor.predict(obj_id)
            except ValueError as e:  # the hull is empty: the other candidates remain
                info[f"{name}_failed"] = str(e)
                continue
            info.update(how)
            info[f"view_error_{name}"] = self.view_error(flats[name], images)
        if not flats:
            raise ValueError("; ".join(info.values()))
        chosen = min(flats, key=lambda k: info[f"view_error_{k}"])
        return flats[chosen], dict(info, prediction=chosen)


def make_predictor(cfg, paths, device, image_spec: SirenSpec, shape_spec: SirenSpec, seed: int) -> Predictor:
    """The predictor of cfg.mapper.route."""
    route = cfg.mapper.route
    if route == Route.probe:
        return ProbePredictor(cfg, paths, device, image_spec, shape_spec, seed)
    if route == Route.hybrid:
        return HybridPredictor(cfg, paths, device, image_spec, shape_spec, seed)
    return ShapePredictor(cfg, paths, device)
