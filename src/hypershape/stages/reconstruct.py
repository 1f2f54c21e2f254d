"""90_reconstruct: marching cubes of the target, predicted and refined shape-SIRENs; every metric of
DESIGN.md per object and per split; a printed table, summary.json/.md, metrics.csv and summary.png."""
from __future__ import annotations

import csv
import io

import numpy as np
import torch
import trimesh

from ..config import section
from ..geometry.marching import mesh_from_sdf
from ..geometry.metrics import mesh_metrics, uniform_cube_points, volumetric_iou
from ..geometry.topology import total_genus
from ..geometry.winding import winding_number
from ..nets.siren import siren_forward
from ..runtime import Stage, atomic_write, device_of, load_json, load_torch, rng, save_json, save_mesh
from .common import shape_spec

KINDS = ("target", "predicted", "refined")
COLUMNS = ("chamfer_l1", "chamfer_l2", "fscore_0.01", "fscore_0.02", "normal_consistency", "iou",
           "surface_error", "genus_match", "closed_manifold", "components", "components_filtered", "empty")
LOWER_IS_BETTER = {"chamfer_l1", "chamfer_l2", "surface_error"}


def sdf_fn(spec, flat: torch.Tensor, device):
    """The SIREN's field as the shape: clipped to the unit ball, the domain it was fitted on (objects lie
    inside radius data.radius < 1), so the unsupervised corners of the cube cannot add surfaces."""
    def f(points: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            v = siren_forward(spec, flat, torch.from_numpy(points).float().to(device))[:, 0].cpu().numpy()
        return np.maximum(v, np.linalg.norm(points, axis=1) - 1.0)
    return f


def ground_truth(paths, obj_id: str, rc, gen) -> dict:
    """What every SIREN of an object is scored against: its solid, genus, surface points, and IoU points
    with their inside/outside by winding number (drawn from `gen`, so a caller's draws are comparable)."""
    mesh = trimesh.load(paths.solid(obj_id), force="mesh", process=False)
    iou_points = uniform_cube_points(rc.iou_points, gen, rc.bound).astype(np.float32)
    return dict(mesh=mesh, genus=total_genus(load_json(paths.topology(obj_id))),
                surface=np.load(paths.surface(obj_id))["points"], iou_points=iou_points,
                inside=winding_number(mesh.vertices, mesh.faces, iou_points) > 0.5)


def evaluate(spec, flat, truth: dict, rc, gen, device) -> tuple[dict, trimesh.Trimesh]:
    """All metrics of one SIREN against the ground truth; an empty mesh gets the worst values."""
    f = sdf_fn(spec, flat.to(device), device)
    mesh = mesh_from_sdf(f, rc.resolution, rc.bound)
    m = mesh_metrics(mesh, truth["mesh"], rc.n_points, tuple(rc.taus), gen)
    m["iou"] = volumetric_iou(truth["inside"], f(truth["iou_points"]) < 0)
    m["surface_error"] = float(np.abs(f(truth["surface"])).mean())
    m["genus_match"] = bool(m["genus"] is not None and truth["genus"] is not None and m["genus"] == truth["genus"])
    return m, mesh


def summarise(rows: list[dict]) -> list[dict]:
    """Median (and mean) of every metric per split and SIREN kind; rates for the boolean ones."""
    out = []
    for split in ("train", "test"):
        for kind in KINDS:
            sel = [r for r in rows if r["split"] == split and r["kind"] == kind]
            if not sel:
                continue
            s = dict(split=split, kind=kind, n=len(sel))
            for c in COLUMNS:
                vals = np.array([float(r[c]) for r in sel])
                s[f"median_{c}"] = float(np.median(vals))
                s[f"mean_{c}"] = float(np.mean(vals))
            out.append(s)
    return out


def table(summary: list[dict], preset: str, route: str, seed: int) -> str:
    """The summary as a Markdown table (medians over objects; rates for genus match and closedness)."""
    cols = [("CD-L1", "median_chamfer_l1", "{:.4f}"), ("CD-L2", "median_chamfer_l2", "{:.5f}"),
            ("F@0.01", "median_fscore_0.01", "{:.3f}"), ("F@0.02", "median_fscore_0.02", "{:.3f}"),
            ("NC", "median_normal_consistency", "{:.3f}"), ("IoU", "median_iou", "{:.3f}"),
            ("surf.err", "median_surface_error", "{:.4f}"), ("genus ok", "mean_genus_match", "{:.0%}"),
            ("closed", "mean_closed_manifold", "{:.0%}"), ("empty", "mean_empty", "{:.0%}")]
    head = f"preset={preset} route={route} seed={seed}; medians over objects, rates for genus/closed/empty\n\n"
    lines = ["| split | SIREN | n | " + " | ".join(c for c, _, _ in cols) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    for s in summary:
        lines.append(f"| {s['split']} | {s['kind']} | {s['n']} | " +
                     " | ".join(fmt.format(s[k]) for _, k, fmt in cols) + " |")
    return head + "\n".join(lines) + "\n"


def picture(path, objects: list[dict], paths, n_max: int) -> None:
    """One row per object: ground truth, target, predicted, refined, each rendered from one camera."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..render import thumbnail

    objs = objects[:n_max]
    fig, axes = plt.subplots(len(objs), 4, figsize=(8, 2 * len(objs)), squeeze=False)
    for i, o in enumerate(objs):
        meshes = [paths.solid(o["id"])] + [paths.mesh(o["id"], k) for k in KINDS]
        for j, (mp, title) in enumerate(zip(meshes, ("ground truth",) + KINDS)):
            ax = axes[i, j]
            ax.axis("off")
            mesh = trimesh.load(mp, force="mesh", process=False) if mp.exists() else trimesh.Trimesh()
            ax.imshow(thumbnail(mesh))
            if not len(mesh.faces):
                ax.text(0.5, 0.5, "empty", ha="center", va="center", transform=ax.transAxes)
            if i == 0:
                ax.set_title(title, fontsize=9)
        axes[i, 0].text(-0.05, 0.5, f"{o['id']}\n({o['split']})", transform=axes[i, 0].transAxes, ha="right",
                        va="center", fontsize=7)
    fig.tight_layout()

    def write(p):
        fig.savefig(p, dpi=80, format="png")
    atomic_write(path, write)
    plt.close(fig)


def run(cfg) -> dict:
    stage = Stage(cfg, "90_reconstruct", upstream=("80_shape_sirens", "60_weight_ae", "02_watertight"))
    p, rc = stage.paths, cfg.reconstruct
    dev = device_of(cfg)
    spec = shape_spec(cfg)

    def work(objs):
        (o,) = objs
        gen = rng(cfg.seed, "90", o["id"])
        truth = ground_truth(p, o["id"], rc, gen)
        shapes = load_torch(p.shape_sirens(o["id"]))
        flats = dict(target=load_torch(p.target(o["id"]))["flat"], predicted=shapes["predicted"],
                     refined=shapes["refined"])
        rows = []
        for kind in KINDS:
            m, mesh = evaluate(spec, flats[kind], truth, rc, gen, dev)
            save_mesh(p.mesh(o["id"], kind), mesh)
            rows.append(dict(id=o["id"], split=o["split"], kind=kind, gt_genus=truth["genus"], **m))
        return {o["id"]: dict(rows=rows)}

    objects = stage.objects()
    stage.run_objects(objects, outputs=lambda o: [p.mesh(o["id"], k) for k in KINDS], work=work)
    pending = stage.pending(objects)
    if pending:  # sharded: the job that scores the last object writes the summary
        stage.log.info("the summary waits for %d objects of other shards (e.g. %s)", len(pending), pending[0])
        return stage.finish()

    done = [o for o in objects if stage.manifest.is_done(o["id"])]
    rows = [r for o in done for r in stage.manifest.get(o["id"])["rows"]]
    summary = summarise(rows)
    failed = {o["id"]: stage.manifest.get(o["id"]).get("reason") for o in objects if not stage.manifest.is_done(o["id"])}
    text = table(summary, cfg.preset, cfg.mapper.route.value, cfg.seed)
    if failed:
        text += f"\n{len(failed)} object(s) failed and are not in the table:\n" + \
                "".join(f"- {k}: {v}\n" for k, v in failed.items())
    save_json(p.summary_json, dict(preset=cfg.preset, route=cfg.mapper.route.value, seed=cfg.seed, summary=summary,
                                   failed=failed, rows=rows))
    atomic_write(p.summary_md, lambda f: f.write_text(text))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "split", "kind", "gt_genus", "genus", *COLUMNS])
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) for k in w.fieldnames})
    atomic_write(p.metrics_csv, lambda f: f.write_text(buf.getvalue()))
    if done:
        picture(p.summary_png, done, p, rc.picture_objects)
    print("\n" + text)
    stage.log.info("summary: %s, %s, %s, %s", p.summary_md, p.summary_json, p.metrics_csv, p.summary_png)
    return stage.finish()
