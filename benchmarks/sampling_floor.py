"""What do two independent samplings of IDENTICAL shapes score at the configured point count? Prints the
sampling floor (Chamfer-L1/L2 and F-score at every reconstruct.taus) that 90's numbers are read against,
for the reference torus and, where the run's 02 solids exist, for each of them.

    python benchmarks/sampling_floor.py [preset=default] [reconstruct.n_points=30000] [reconstruct.taus=[0.005,0.05]]
"""

import hydra
import trimesh

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.geometry.metrics import fscore_key, sampling_floor
from hypershape.objects import load_objects
from hypershape.paths import paths_of
from hypershape.runtime import rng


@hydra.main(config_path="../configs", config_name="config", version_base=None)
def main(cfg) -> None:
    rc, p = cfg.reconstruct, paths_of(cfg)
    keys = ["chamfer_l1", "chamfer_l2", *map(fscore_key, rc.taus)]
    print(f"preset={cfg.preset} n_points={rc.n_points} seed={cfg.seed}: two samplings of the same surface\n")
    print("| surface | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    surfaces = [("reference torus", None)]
    if p.objects.exists():
        surfaces += [(o.id, p.solid(o.id)) for o in load_objects(p.objects) if p.solid(o.id).exists()]
    for name, path in surfaces:
        mesh = None if path is None else trimesh.load(path, force="mesh", process=False)
        floor = sampling_floor(rc, rng(cfg.seed, "floor", name), mesh)
        print(f"| {name} | " + " | ".join(f"{floor[k]:.5f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
