"""Scores 60's targets alone, as 90 scores its "target" rows (same grid, same draws, same metrics), without
the stages 03-80 that 90 also needs: per split, how many targets are closed, have the right genus, have
surface at the cube's edge (at domain > 0), and their F-scores. Run it on a data directory where 02 and 60
ran, e.g. to compare two versions of the target fitting on the same objects.

    python benchmarks/target_scores.py preset=cpu100 data_dir=/tmp/x [+json=/tmp/x/targets.json]
"""

import json

import hydra
import numpy as np

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.geometry.metrics import fscore_key
from hypershape.nets.siren import siren_field
from hypershape.paths import paths_of
from hypershape.runtime import load_json, load_torch, numerics_of, rng
from hypershape.stages.common import shape_spec
from hypershape.stages.reconstruct import ground_truth, score_field


def score_targets(cfg) -> list[dict]:
    """One row per object with a target: its split and 90's target metrics."""
    p, rc, num = paths_of(cfg), cfg.reconstruct, numerics_of(cfg)
    spec, rows = shape_spec(cfg), []
    for o in load_json(p.objects):
        if not p.target(o["id"]).exists():
            continue
        gen = rng(cfg.seed, "90", o["id"])  # 90's draws: the same numbers as its target row
        truth = ground_truth(p, o["id"], rc, gen)
        f = siren_field(spec, load_torch(p.target(o["id"]))["flat"], num.device, cfg.device.eval_chunk, num.compile)
        m, _ = score_field(f, truth, rc, gen)
        rows.append(dict(id=o["id"], split=o["split"], gt_genus=truth["genus"], **m))
        print(
            f"{o['id']}: closed {m['closed_manifold']} genus {m['genus']} (truth {truth['genus']}) "
            f"at domain {m['touches_domain']:.4f} F@0.02 {m[fscore_key(0.02)]:.3f}",
            flush=True,
        )
    return rows


@hydra.main(config_path="../configs", config_name="config", version_base=None)
def main(cfg) -> None:
    rows = score_targets(cfg)
    keys = [fscore_key(t) for t in cfg.reconstruct.taus]
    print(f"\npreset={cfg.preset} data_dir={cfg.data_dir}: targets scored as 90 scores them\n")
    head = ["split", "n", "closed", "genus ok", "at domain > 0"] + [f"{a} {k}" for k in keys for a in ("median", "min")]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for split in ("train", "test"):
        sel = [r for r in rows if r["split"] == split]
        if not sel:
            continue
        cells = [split, str(len(sel))]
        cells += [f"{np.mean([bool(r[k]) for r in sel]):.0%}" for k in ("closed_manifold", "genus_match")]
        cells += [f"{np.mean([r['touches_domain'] > 0 for r in sel]):.0%}"]
        cells += [f"{g([r[k] for r in sel]):.3f}" for k in keys for g in (np.median, min)]
        print("| " + " | ".join(cells) + " |")
    if cfg.get("json"):
        with open(cfg.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
