"""The inference API of a trained pipeline: the shape-SIREN weights an object's images give, read off its
hypernetwork alone. Stage 80 starts from it. Routes latent and direct pass the hypernetwork's sketch
through the trained mapper (and, for latent, the autoencoder's decoder); route probe draws the views the
hypernetwork emits, carves their visual hull and fits a shape-SIREN to the hull's SDF."""

from __future__ import annotations

import torch

from ..config import Route
from ..geometry.carve import visual_hull
from ..geometry.sdf import sample_sdf
from ..runtime import generator, load_torch, rng
from ..training import fit_sdf
from .mapper import load_mapper
from .probe import Prober
from .siren import SirenSpec
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


class ProbePredictor:
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

    def __call__(self, obj_id: str) -> torch.Tensor:
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
        )
        return flat[0]
