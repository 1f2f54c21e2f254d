"""Route probe: nothing is learnt from other objects. 70 keeps the views every hypernetwork draws (its
input space, in which retrieval looks up neighbours); 80 draws the object's views at the cameras'
directions at mapper.probe.upsample times the render resolution, thresholds them into outlines, carves
their visual hull on a grid, draws SDF samples of the hull as 02 draws them from a solid (cfg.data) and
fits a shape-SIREN to them from the shape anchor as 60 fits a target (cfg.shape_siren)."""

from __future__ import annotations

import torch

from ..config import readout_seed, section
from ..geometry.carve import visual_hull
from ..geometry.sdf import enclosing_radius, sample_sdf
from ..readout.probe import Prober, probe_features
from ..routes.base import MapperRoute, Predictor, TrainingSet
from ..runtime import device_of, generator, load_torch, numerics_of, rng, save_torch
from ..stages.common import image_spec, shape_spec
from ..training import fit_sdf


def drawn_hull(cfg, prober: Prober, obj_id: str):
    """The visual hull (a trimesh; empty if the outlines share no point) of the views the object's
    hypernetwork draws at mapper.probe.upsample times the render resolution."""
    probe, bound = cfg.mapper.probe, cfg.reconstruct.bound
    images = prober.images(obj_id, probe.upsample * cfg.render.resolution).cpu()
    return visual_hull(images, prober.poses, cfg.render.yfov_deg, probe.threshold, probe.resolution, bound)


def hull_samples(cfg, prober: Prober, obj_id: str, seed: int):
    """The drawn hull and its SDF samples (points, sdf) drawn as 02 draws them from a solid (cfg.data),
    seeded by `seed` and the object. Raises ValueError where the hull is empty."""
    hull = drawn_hull(cfg, prober, obj_id)
    if len(hull.faces) == 0:
        raise ValueError(f"{obj_id}: the probed outlines (threshold {cfg.mapper.probe.threshold}) share no point")
    d, bound, gen = cfg.data, cfg.reconstruct.bound, rng(seed, "probe", obj_id)
    s = sample_sdf(hull, d.sdf_pool, d.sdf_samples, d.surface_samples, d.beta, gen, d.uniform_samples, bound)
    return hull, torch.from_numpy(s["points"]), torch.from_numpy(s["sdf"])


class ProbePredictor(Predictor):
    """The shape-SIREN fitted to the visual hull of the views the object's hypernetwork draws."""

    def __init__(self, cfg, paths, device):
        self.cfg, self.seed, self.shape_spec = cfg, readout_seed(cfg), shape_spec(cfg)
        self.prober = Prober(cfg, paths, image_spec(cfg), device)
        self.anchor = load_torch(paths.shape_anchor)["flat"].to(device)

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        hull, points, sdf = hull_samples(self.cfg, self.prober, obj_id, self.seed)
        gens = [generator(self.seed, "probe", obj_id)]
        c, data, radii = self.cfg, [(points, sdf)], [enclosing_radius(hull)]
        desc, num, bound = f"{obj_id} (probe)", numerics_of(c), c.reconstruct.bound
        flat, _ = fit_sdf(self.shape_spec, self.anchor[None], data, radii, gens, c.shape_siren, bound, desc, num)
        return flat[0], {}


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
