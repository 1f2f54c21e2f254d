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


class ProbePredictor(Predictor):
    """The shape-SIREN fitted to the visual hull of the views the object's hypernetwork draws."""

    def __init__(self, cfg, paths, device):
        self.cfg, self.seed, self.shape_spec = cfg, readout_seed(cfg), shape_spec(cfg)
        self.probe = cfg.mapper.probe
        self.prober = Prober(cfg, paths, image_spec(cfg), device)
        self.anchor = load_torch(paths.shape_anchor)["flat"].to(device)

    def hull(self, obj_id: str):
        """The visual hull (a trimesh; empty if the outlines share no point) of the object's hypernetwork."""
        c, probe = self.cfg, self.probe
        images = self.prober.images(obj_id, probe.upsample * c.render.resolution).cpu()
        poses = self.prober.poses
        return visual_hull(images, poses, c.render.yfov_deg, probe.threshold, probe.resolution, c.reconstruct.bound)

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        hull = self.hull(obj_id)
        if len(hull.faces) == 0:
            raise ValueError(f"{obj_id}: the probed outlines (threshold {self.probe.threshold}) share no point")
        d, bound = self.cfg.data, self.cfg.reconstruct.bound
        gen = rng(self.seed, "probe", obj_id)
        s = sample_sdf(hull, d.sdf_pool, d.sdf_samples, d.surface_samples, d.beta, gen, d.uniform_samples, bound)
        data = [(torch.from_numpy(s["points"]), torch.from_numpy(s["sdf"]))]
        gens = [generator(self.seed, "probe", obj_id)]
        c, radii = self.cfg, [enclosing_radius(hull)]
        desc, num = f"{obj_id} (probe)", numerics_of(c)
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
