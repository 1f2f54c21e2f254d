"""What evaluating route view_field's field coarse to fine (view_field.coarse, view_field.band) saves and
changes, on a finished run's trained field (70 done, route view_field): for each held-out object, the
seconds to fill mapper.probe.resolution^3 in full and coarse to fine, the fine points whose sign differs
from the full grid's, and the fine points beside the full grid's surface (a point of the other sign among
their 3^3 neighbours: what marching cubes reads) whose value differs from the full grid's (0: the same
mesh), with the largest difference there (a value left unread is off by about the field's curvature over
a coarse cell; one read in another batch of points, by float rounding). Settings default to the config's.

    python benchmarks/view_field_grid.py preset=cpu100 data_dir=/tmp/runs name=RUN data.split=ood \
        mapper=view_field [+objects=20] [+settings=[[32,0.06],[64,0.03]]]
"""

import time

import hydra
import numpy as np
import torch

import hypershape.config  # noqa: F401
from hypershape.geometry.marching import beside_surface
from hypershape.objects import Subset, load_objects
from hypershape.paths import paths_of
from hypershape.readout.probe import Prober
from hypershape.readout.view_field import ViewField, grid_values
from hypershape.routes.view_field import drawn_stack
from hypershape.runtime import device_of, load_torch
from hypershape.stages.common import image_spec


@hydra.main(config_path="../configs", config_name="config", version_base=None)
def main(cfg) -> None:
    p, dev = paths_of(cfg), device_of(cfg)
    ckpt = load_torch(p.mapper)
    field = ViewField(**ckpt["field"]["sizes"])
    field.load_state_dict(ckpt["field"]["state"])
    field = field.to(dev).eval().requires_grad_(False)
    prober = Prober(cfg, p, image_spec(cfg), dev)
    held_out = sorted(o.id for o in load_objects(p.objects, fetched_only=True) if o.split == Subset.test)
    ids = held_out[: cfg.get("objects", 20)]
    v = cfg.view_field
    settings = [tuple(s) for s in cfg.get("settings", [[v.coarse, v.band]])]
    res, bound, yfov = cfg.mapper.probe.resolution, cfg.reconstruct.bound, cfg.render.yfov_deg
    print(f"{p.root}: {len(ids)} held-out objects, {res}^3 grid, {torch.get_num_threads()} threads, {field.sizes}")
    rows = {s: [] for s in [(0, 0.0)] + settings}
    for obj_id in ids:
        stack = drawn_stack(cfg, prober, obj_id, ckpt["config"])
        full = None
        for coarse, band in rows:
            t = time.perf_counter()
            grid = grid_values(field, stack, prober.poses, yfov, res, bound, coarse, band)
            seconds = time.perf_counter() - t
            if full is None:
                full, surface = grid, beside_surface(grid)
            flips = int((np.sign(grid) != np.sign(full)).sum())
            moved = int((grid[surface] != full[surface]).sum())  # 0: marching cubes makes the same mesh
            # rounding (read in other batches of points) or a value not read
            gap = float(np.abs(grid[surface] - full[surface]).max()) if surface.any() else 0.0
            rows[(coarse, band)].append((seconds, flips, moved, gap))
    print(
        "| coarse | band | seconds (median) | × full | sign flips (max) | values beside the surface changed (max) "
        "| largest change there |"
    )
    print("|---|---|---|---|---|---|---|")
    base = np.median([r[0] for r in rows[(0, 0.0)]])
    for (coarse, band), r in rows.items():
        s = np.median([x[0] for x in r])
        print(
            f"| {coarse or 'full'} | {band} | {s:.2f} | {s / base:.2f} | {max(x[1] for x in r)} |"
            f" {max(x[2] for x in r)} | {max(x[3] for x in r):.2g} |"
        )


if __name__ == "__main__":
    main()
