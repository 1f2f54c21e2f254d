"""Route probe: nothing is learnt from other objects. 70 keeps the views every hypernetwork draws (its
input space, in which retrieval looks up neighbours); 80 draws the object's views at the cameras'
directions at mapper.probe.upsample times the render resolution, thresholds them into outlines, carves
their visual hull on a grid, draws SDF samples of the hull as 02 draws them from a solid (cfg.data) and
fits a shape-SIREN to them from the shape anchor as 60 fits a target (cfg.shape_siren)."""

from __future__ import annotations

import torch

from ..config import readout_seed, section
from ..geometry.marching import closed_mesh
from ..geometry.sdf import enclosing_radius, sample_sdf
from ..readout.probe import Prober, drawn_hull_grid, probe_features
from ..routes.base import MapperRoute, Predictor, TrainingSet
from ..runtime import device_of, generator, load_torch, numerics_of, rng, save_torch
from ..stages.common import image_spec, shape_spec
from ..training import fit_sdf


def drawn_hull(cfg, prober: Prober, obj_id: str):
    """The visual hull (a trimesh; empty if the outlines share no point) of the views the object's
    hypernetwork draws at mapper.probe.upsample times the render resolution."""
    images = prober.images(obj_id, cfg.mapper.probe.upsample * cfg.render.resolution).cpu()
    return closed_mesh(drawn_hull_grid(images, prober.poses, cfg), cfg.reconstruct.bound)


def surface_samples(cfg, mesh, seed: int, *tag):
    """SDF samples (points, sdf) of a closed mesh drawn as 02 draws them from a solid (cfg.data), seeded
    by `seed` and `tag` (a route's name and the object)."""
    d, bound, gen = cfg.data, cfg.reconstruct.bound, rng(seed, *tag)
    s = sample_sdf(mesh, d.sdf_pool, d.sdf_samples, d.surface_samples, d.beta, gen, d.uniform_samples, bound)
    return torch.from_numpy(s["points"]), torch.from_numpy(s["sdf"])


def hull_samples(cfg, prober: Prober, obj_id: str, seed: int):
    """The drawn hull and its SDF samples (points, sdf) drawn as 02 draws them from a solid (cfg.data),
    seeded by `seed` and the object. Raises ValueError where the hull is empty."""
    hull = drawn_hull(cfg, prober, obj_id)
    if len(hull.faces) == 0:
        raise ValueError(f"{obj_id}: the probed outlines (threshold {cfg.mapper.probe.threshold}) share no point")
    return (hull, *surface_samples(cfg, hull, seed, "probe", obj_id))


class SurfacePredictor(Predictor):
    """The shape-SIREN fitted, from the shape anchor as 60 fits a target (cfg.shape_siren), to SDF samples of
    a surface the route (`route`, which seeds the fit) reads off the object's hypernetwork (`samples`)."""

    route = ""

    def __init__(self, cfg, paths, device):
        self.cfg, self.seed, self.shape_spec = cfg, readout_seed(cfg), shape_spec(cfg)
        self.prober = Prober(cfg, paths, image_spec(cfg), device)
        self.anchor = load_torch(paths.shape_anchor)["flat"].to(device)

    def samples(self, obj_id: str):
        """(the surface, points, sdf); raises ValueError where the surface is empty."""
        raise NotImplementedError

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        mesh, points, sdf = self.samples(obj_id)
        gens = [generator(self.seed, self.route, obj_id)]
        c, data, radii = self.cfg, [(points, sdf)], [enclosing_radius(mesh)]
        desc, num, bound = f"{obj_id} ({self.route})", numerics_of(c), c.reconstruct.bound
        flat, _ = fit_sdf(self.shape_spec, self.anchor[None], data, radii, gens, c.shape_siren, bound, desc, num)
        return flat[0], {}


class ProbePredictor(SurfacePredictor):
    """The shape-SIREN fitted to the visual hull of the views the object's hypernetwork draws."""

    route = "probe"

    def samples(self, obj_id: str):
        return hull_samples(self.cfg, self.prober, obj_id, self.seed)


class Probe(MapperRoute):
    def inputs(self, cfg, data: TrainingSet) -> tuple:
        return data.split(), sorted(data.train_ids), data.hypernets()  # the probed views read no latent or target

    def make(self, cfg, data: TrainingSet) -> dict:
        feats = probe_features(cfg, data.stage.paths, data.ids, device_of(cfg))
        saved = dict(route=self.name, features=feats, train_ids=data.train_ids, config=section(cfg, "mapper"))
        save_torch(data.stage.paths.mapper, saved)
        data.stage.log.info("probe route: the views of %d hypernetworks, nothing trained", len(feats))
        return dict(train=len(data.train_ids), train_ids=data.train_ids)

    def predictor(self, cfg, paths, device) -> Predictor:
        return ProbePredictor(cfg, paths, device)


ROUTE = Probe()
