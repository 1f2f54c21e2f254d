"""02_watertight: per object, the solid (generalized winding numbers), normalised into the unit sphere;
importance-sampled SDF samples; surface points with normals; ground-truth topology and faithfulness."""

from __future__ import annotations

import numpy as np
import trimesh

from ..geometry.sdf import sample_sdf, sample_surface
from ..geometry.solid import faithfulness, make_solid, normalise
from ..geometry.topology import topology
from ..runtime import Stage, rng, save_json, save_mesh, save_npz


def make_object(raw: trimesh.Trimesh, d, gen: np.random.Generator, bound: float = 1.0) -> dict:
    """Everything 02 writes for one mesh, in memory. The topology record carries `faithfulness`: the share
    of the raw surface within d.faithfulness_distance of the solid's surface, in the normalised frame."""
    solid = make_solid(raw, d.solid_resolution, thin_voxels=d.thin_voxels)
    solid, transform = normalise(solid, d.radius)
    # the uniform samples cover the cube 90 scores the fields over, [-bound, bound]^3
    samples = sample_sdf(solid, d.sdf_pool, d.sdf_samples, d.surface_samples, d.beta, gen, d.uniform_samples, bound)
    points, normals = sample_surface(solid, d.eval_surface_points, gen)
    topo = topology(solid)
    topo["faithfulness"] = faithfulness(raw, solid, transform, d.faithfulness_points, d.faithfulness_distance, gen)
    return dict(
        solid=solid,
        samples=samples,
        points=points.astype(np.float32),
        normals=normals.astype(np.float32),
        topology=topo,
        transform=transform,
    )


def run(cfg) -> dict:
    stage = Stage(cfg, "02_watertight")
    p, d = stage.paths, cfg.data

    def work(objs):
        (o,) = objs
        raw = trimesh.load(p.root / o.raw, force="mesh", process=False)
        r = make_object(raw, d, rng(cfg.seed, "02", o.id), cfg.reconstruct.bound)
        topo = dict(r["topology"], transform=r["transform"].tolist(), known_genus=o.genus)
        save_mesh(p.solid(o.id), r["solid"])
        save_npz(p.sdf_samples(o.id), points=r["samples"]["points"], sdf=r["samples"]["sdf"])
        save_npz(p.surface(o.id), points=r["points"], normals=r["normals"])
        save_json(p.topology(o.id), topo)
        genus = topo["genus"]
        if o.genus is not None and sum(g or 0 for g in genus) != o.genus:
            stage.log.warning("%s: solid genus %s differs from the catalogue's %s", o.id, genus, o.genus)
        if topo["faithfulness"] < d.faithfulness_bar:
            stage.log.warning(
                "%s: only %.1f%% of the raw surface lies within %g of the solid (bar %.0f%%)",
                o.id,
                100 * topo["faithfulness"],
                d.faithfulness_distance,
                100 * d.faithfulness_bar,
            )
        return {
            o.id: dict(
                genus=genus, components=topo["components"], volume=topo["volume"], faithfulness=topo["faithfulness"]
            )
        }

    stage.run_objects(
        stage.objects(),
        outputs=lambda o: [p.solid(o.id), p.sdf_samples(o.id), p.surface(o.id), p.topology(o.id)],
        work=work,
    )
    return stage.finish()
