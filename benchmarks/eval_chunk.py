"""How fast is a SIREN evaluated (no gradients) at each chunk size? Prints seconds for one shape-SIREN over
reconstruct's marching-cubes grid and for one view check (refine.eval_rays x samples_per_ray points), so
`device.eval_chunk` can be set from a measurement on the machine at hand.

    python benchmarks/eval_chunk.py [preset=default] [device=cuda] [+chunks=[4096,16384,65536,0]]
"""

import time

import hydra
import torch

import hypershape.config  # noqa: F401
from hypershape.geometry.marching import grid_points
from hypershape.nets.siren import siren_eval
from hypershape.runtime import numerics_of
from hypershape.stages.common import shape_spec


def seconds(fn, repeats: int = 3) -> float:
    """Best of `repeats` timings (the first call also warms up allocators and caches)."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


@hydra.main(config_path="../configs", config_name="config", version_base=None)
def main(cfg) -> None:
    num = numerics_of(cfg)
    dev = num.device
    spec = shape_spec(cfg)
    flat = spec.init(torch.Generator().manual_seed(cfg.seed)).to(dev)
    rc, r = cfg.reconstruct, cfg.shape_siren.refine
    grid = torch.as_tensor(grid_points(rc.resolution, rc.bound), dtype=torch.float32, device=dev)
    rays = torch.rand(r.eval_rays * r.samples_per_ray, 3, generator=torch.Generator().manual_seed(0)).to(dev)
    print(
        f"preset={cfg.preset} device={dev} threads={torch.get_num_threads()} shape-SIREN {spec.hidden} wide; "
        f"grid {rc.resolution}^3 = {len(grid)} points, view check {len(rays)} points"
    )
    print("| chunk | grid s | view check s |\n|---|---|---|")
    for chunk in cfg.get("chunks", [4096, 8192, 16384, 32768, 65536, 0]):
        g = seconds(lambda c=chunk: siren_eval(spec, flat, grid, c, num.compile))
        v = seconds(lambda c=chunk: siren_eval(spec, flat, rays, c, num.compile))
        print(f"| {chunk or 'all'} | {g:.3f} | {v:.3f} |")


if __name__ == "__main__":
    main()
