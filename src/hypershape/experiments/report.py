"""One Markdown report of every experiment that has been run for a base run, figures embedded."""

from __future__ import annotations

from ..config import Route
from ..geometry.metrics import FLOOR_TORUS, sampling_floor
from ..metrics import select
from ..paths import Paths, paths_of
from ..runtime import atomic_write, load_json, rng
from . import EXPERIMENTS


def conventions(rc, floor: dict) -> str:
    """How every number of the report was measured, with the point counts and taus of the config `rc` it
    reports on and the sampling floor computed at those counts (`sampling_floor`)."""
    taus = ", ".join(f"{t:g}" for t in rc.taus)
    torus = f"R = {FLOOR_TORUS['major_radius']:g}, r = {FLOOR_TORUS['minor_radius']:g}"
    floor_f = ", ".join(f"{m.label} = {floor[m.key]:.3f}" for m in select(rc.taus, "fscore"))
    return f"""\
All metrics are on meshes in the normalised frame (objects scaled into the unit sphere), with {rc.n_points:,} points
sampled on each surface (docs/design.md). Chamfer-L1 = ½(mean NN distance pred→gt + mean NN distance gt→pred);
Chamfer-L2 = ½(mean squared NN distance pred→gt + gt→pred); F-score@τ = harmonic mean of precision (pred
points within τ of gt) and recall (gt points within τ of pred), τ = {taus}; normal consistency = mean |n·n′| of
nearest neighbours both ways; IoU on {rc.iou_points:,} uniform points in [−{rc.bound:g}, {rc.bound:g}]³ (ground truth
by winding number, SIREN by sign); genus from χ on closed manifold components only, matched as the multiset of
per-component genera. SIREN fields are scored as fitted (marching cubes over the whole cube, no clipping);
"at domain" is the share of a mesh's area at |p| ≥ {rc.domain_radius:g}, where no object lies: surface the
field made outside the object, a defect. An empty mesh scores the worst value and is counted.
Sampling floor, computed for this config: two independent samplings of one identical surface (a torus,
{torus}) at {rc.n_points:,} points give Chamfer-L1 = {floor["chamfer_l1"]:.4f}, Chamfer-L2 =
{floor["chamfer_l2"]:.6f}, {floor_f}: read the tables against that floor.
"""


def write_report(cfg) -> str:
    p = paths_of(cfg)
    parts = [
        f"# hypernet → shape: report for run `{cfg.name}`\n",
        f"preset={cfg.preset}, base seed={cfg.seed}. Every table states its split, SIREN kind and seeds.\n",
        "## Conventions\n",
        conventions(cfg.reconstruct, sampling_floor(cfg.reconstruct, rng(cfg.seed, "floor"))),
    ]
    for route in (r.value for r in Route):
        s = Paths(cfg.data_dir, cfg.name, route).summary_md
        if s.exists():
            parts += [
                f"## Pipeline summary, route={route}\n",
                s.read_text(),
                f"![objects](90_reconstruct/{route}/summary.png)\n",
            ]
    found = 0
    for name in EXPERIMENTS:
        d = p.experiment(name)
        if not (d / "table.md").exists():
            parts.append(f"## {name}\n\nNot run yet: `python experiment.py experiment={name} preset={cfg.preset}`.\n")
            continue
        found += 1
        parts.append((d / "table.md").read_text())
        verdict = load_json(d / "table.json").get("verdict")
        if verdict:
            parts.append(f"\n**{verdict}**\n")
        for png in sorted(d.glob("*.png"))[:4]:
            parts.append(f"\n![{png.stem}]({png.relative_to(p.root)})\n")
    text = "\n".join(parts)
    atomic_write(p.report, lambda f: f.write_text(text))
    print(f"report: {p.report} ({found} of {len(EXPERIMENTS)} experiments)")
    return text
