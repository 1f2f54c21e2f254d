"""Route view_field: a network learnt on the training objects reads each point's signed distance off the
views the object's hypernetwork draws (readout/view_field.py: each view's brightness at the point's
projection, under several blurs). 70 trains it on the training objects' drawn views and 02 SDF samples
(cfg.view_field); 80 evaluates it for the object's own views over the probe grid (mapper.probe.resolution,
coarse to fine: view_field.coarse, view_field.band), meshes its zero set (gaps narrower than the views
show closed: view_field.close_gaps; voids sealed inside filled: view_field.fill_voids) and fits a
shape-SIREN to SDF samples of that surface as route probe fits its hull.
Predicted rows read the object's hypernetwork and what was learnt from training objects alone."""

from __future__ import annotations

import torch

from ..config import readout_seed, section
from ..geometry.marching import close_gaps_in, closed_mesh
from ..readout.probe import Prober, drawn_hull_grid
from ..readout.view_field import (
    ViewField,
    check_order,
    grid_values,
    train_view_field,
    view_stack,
)
from ..routes.base import MapperRoute, Predictor, TrainingSet
from ..runtime import device_of, load_torch, save_torch
from ..stages.common import image_spec, load_samples
from .probe import SurfacePredictor, surface_samples


def drawn_stack(cfg, prober: Prober, obj_id: str, c: dict) -> torch.Tensor:
    """view_stack of the object's views as its hypernetwork draws them at render.resolution, for `c` (the
    view_field section 70 trained with) [S, V, R, R]."""
    return view_stack(prober.images(obj_id, cfg.render.resolution), prober.poses, c, cfg)


class ViewFieldPredictor(SurfacePredictor):
    """The shape-SIREN fitted to the zero set of the trained view field on the object's drawn views."""

    route = "view_field"

    def __init__(self, cfg, paths, device):
        super().__init__(cfg, paths, device)
        ckpt = load_torch(paths.mapper)
        self.field = ViewField(**ckpt["field"]["sizes"])
        self.field.load_state_dict(ckpt["field"]["state"])
        self.field = self.field.to(device).eval().requires_grad_(False)
        self.trained = ckpt["config"]

    def samples(self, obj_id: str):
        c = self.cfg
        images, poses, yfov = self.prober.images(obj_id, c.render.resolution), self.prober.poses, c.render.yfov_deg
        res, bound, v = c.mapper.probe.resolution, c.reconstruct.bound, c.view_field
        stack = view_stack(images, poses, self.trained, c)  # as drawn_stack, the views drawn once
        grid = grid_values(self.field, stack, poses, yfov, res, bound, v.coarse, v.band)
        if v.close_gaps:
            close_gaps_in(grid, v.close_gaps, bound, allowed=drawn_hull_grid(images, poses, c) < 0)
        mesh = closed_mesh(grid, bound, v.fill_voids)  # closed at the grid's edge, as the hull is meshed
        if len(mesh.faces) == 0:
            raise ValueError(f"{obj_id}: the view field is nowhere inside the object")
        return (mesh, *surface_samples(c, mesh, self.seed, self.route, obj_id))


class ViewFieldRoute(MapperRoute):
    def inputs(self, cfg, data: TrainingSet) -> tuple:
        # training reads the training objects' SDF samples and hypernetworks; 80 every object's hypernetwork
        return data.split(), data.train_keys("02_watertight", "50_hypernets"), data.hypernets()

    def make(self, cfg, data: TrainingSet) -> dict:
        p, dev, stage, c = data.stage.paths, device_of(cfg), data.stage, cfg.view_field
        prober, trained = Prober(cfg, p, image_spec(cfg), dev), section(cfg, "view_field")
        check_order(c.order)  # before the views are drawn, not after
        stacks = [drawn_stack(cfg, prober, i, trained) for i in data.train_ids]
        samples = [load_samples(p, i) for i in data.train_ids]
        seed, yfov = readout_seed(cfg), cfg.render.yfov_deg
        field, curve = train_view_field(stacks, samples, data.train_ids, prober.poses, c, yfov, seed, dev)
        stage.keep_shared_curve("view_field", curve)
        save_torch(
            p.mapper,
            dict(
                route=self.name,
                field=dict(sizes=field.sizes, state=field.state_dict()),
                train_ids=data.train_ids,
                config=trained,
                readout_seed=seed,
            ),
        )
        n = len(data.train_ids)
        stage.log.info("view field on %d train objects: loss %.4g -> %.4g", n, curve[0], curve[-1])
        return dict(loss_first=curve[0], loss_last=curve[-1], train=n, train_ids=data.train_ids)

    def predictor(self, cfg, paths, device) -> Predictor:
        return ViewFieldPredictor(cfg, paths, device)


ROUTE = ViewFieldRoute()
