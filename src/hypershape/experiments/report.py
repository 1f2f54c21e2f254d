"""One Markdown report of every experiment that has been run for a base run, figures embedded."""
from __future__ import annotations

from ..paths import paths_of
from ..runtime import atomic_write, load_json
from . import EXPERIMENTS

CONVENTIONS = """\
All metrics are on meshes in the normalised frame (objects scaled into the unit sphere), with 30,000 points
sampled on each surface (DESIGN.md). Chamfer-L1 = ½(mean NN distance pred→gt + mean NN distance gt→pred);
Chamfer-L2 = ½(mean squared NN distance pred→gt + gt→pred); F-score@τ = harmonic mean of precision (pred
points within τ of gt) and recall (gt points within τ of pred), τ = 0.01 and 0.02; normal consistency =
mean |n·n′| of nearest neighbours both ways; IoU on 100,000 uniform points in [−1, 1]³ (ground truth by
winding number, SIREN by sign); genus from χ on closed manifold components only. SIREN fields are clipped
to the unit ball (the domain they are fitted on) before marching cubes. An empty mesh scores the worst
value and is counted. Sampling two copies of one surface at 30,000 points gives Chamfer-L1 ≈ 0.01 and
F@0.01 ≈ 0.6 by itself: read F@0.02 and Chamfer against that floor.
"""


def write_report(cfg) -> str:
    p = paths_of(cfg)
    parts = [f"# hypernet → shape: report for run `{cfg.name}`\n",
             f"preset={cfg.preset}, base seed={cfg.seed}. Every table states its split, SIREN kind and seeds.\n",
             "## Conventions\n", CONVENTIONS]
    for route in ("latent", "direct"):
        s = p.root / "90_reconstruct" / route / "summary.md"
        if s.exists():
            parts += [f"## Pipeline summary, route={route}\n", s.read_text(),
                      f"![objects](90_reconstruct/{route}/summary.png)\n"]
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
