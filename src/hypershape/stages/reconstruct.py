"""90_reconstruct: marching cubes of the target, predicted, refined and (with refine.oracle_depth) oracle-depth
fields; every metric of docs/design.md per object and per split, and the share of objects a route answered
from memory; a printed table, summary.json/.md, metrics.csv and summary.png."""

from __future__ import annotations

import csv
import io

import numpy as np
import trimesh

from .. import routes
from ..config import readout_seed
from ..curves import write_figure
from ..geometry.marching import mesh_from_sdf
from ..geometry.metrics import mesh_metrics
from ..geometry.sdf import sample_surface, uniform_cube_points
from ..geometry.winding import winding_number
from ..metrics import Scored, compute, metrics, summary_metrics
from ..nets.siren import siren_field
from ..objects import RunObject, Subset, load_objects
from ..page import page_inputs, write_page
from ..runtime import Stage, atomic_write, load_json, load_torch, numerics_of, rng, save_json, save_mesh
from .common import evaluated, shape_spec

KINDS = ("target", "predicted", "refined", "oracle_depth")
"""The fields scored per object: 60's target and 80's fields (oracle_depth only with refine.oracle_depth)."""
REFINEMENTS = ("refined", "oracle_depth")
"""80's refinements of the prediction."""
LABELS = dict(target="target", predicted="predicted", refined="refined", oracle_depth="oracle depth")
"""How tables name each kind."""
INPUTS = (
    "Inputs: predicted reads only the object's hypernetwork and what was learned from the training objects; "
    "refined, the prediction fitted to the outlines of the object's 24 RGB pictures; oracle depth, fitted to "
    "03's depth maps as well (ground-truth geometry no picture holds); memory: share of objects the route "
    "answered with their own training target (a training object retrieving itself)."
)
"""What each row of a table may read: every table's preamble states it."""


def scored_kinds(cfg) -> tuple[str, ...]:
    """The kinds 90 scores for this config (80 makes oracle_depth only with shape_siren.refine.oracle_depth)."""
    return KINDS if cfg.shape_siren.refine.oracle_depth else tuple(k for k in KINDS if k != "oracle_depth")


def metric_columns(taus) -> tuple[str, ...]:
    """Every per-row metric of the registry, in CSV and summary order (one F-score column per tau)."""
    return tuple(m.key for m in metrics(taus))


def truth_of(mesh: trimesh.Trimesh, genus: list, surface: np.ndarray, rc, gen) -> dict:
    """What a field is scored against: the solid, its per-component genus list, surface points, IoU
    points (drawn from `gen`, so a caller's draws are comparable) with inside/outside by winding number, and
    `rc.n_points` area-uniform points with normals on the solid (drawn once for every field scored)."""
    iou_points = uniform_cube_points(rc.iou_points, gen, rc.bound).astype(np.float32)
    return dict(
        mesh=mesh,
        sample=sample_surface(mesh, rc.n_points, gen),
        genus=list(genus),
        surface=np.asarray(surface, dtype=np.float32),
        iou_points=iou_points,
        inside=winding_number(mesh.vertices, mesh.faces, iou_points) > 0.5,
    )


def ground_truth(paths, obj_id: str, rc, gen) -> dict:
    """truth_of an object from 02's files: its solid, topology.json's genus list, its surface points."""
    mesh = trimesh.load(paths.solid(obj_id), force="mesh", process=False)
    return truth_of(mesh, load_json(paths.topology(obj_id))["genus"], np.load(paths.surface(obj_id))["points"], rc, gen)


def score_field(f, truth: dict, rc, gen) -> tuple[dict, trimesh.Trimesh]:
    """Every metric of a signed distance field f (points [n,3] float32 -> [n], negative inside) against the
    ground truth, on the field as fitted: its zero set over the cube is the mesh, its sign gives IoU. An
    empty mesh gets the worst surface metrics; IoU and surface error are what the field honestly scores."""
    mesh = mesh_from_sdf(f, rc.resolution, rc.bound)
    m = mesh_metrics(mesh, truth["mesh"], rc.n_points, tuple(rc.taus), gen, truth["sample"])
    m.update(compute(Scored(field=f, mesh=mesh, truth=truth, rc=rc, measured=m)))
    return m, mesh


def summarise(rows: list[dict], columns) -> list[dict]:
    """Median (and mean) of every metric per split and SIREN kind; rates for the boolean ones; for 80's
    fields, `memory`: the share of objects the route answered with their own training target."""
    out = []
    for split in Subset:
        for kind in KINDS:
            sel = [r for r in rows if r["split"] == split and r["kind"] == kind]
            if not sel:
                continue
            s = dict(split=split, kind=kind, n=len(sel))
            if kind != "target":
                s["memory"] = float(np.mean([bool(r["memory"]) for r in sel]))
            for c in columns:
                vals = np.array([float(r[c]) for r in sel])
                s[f"median_{c}"] = float(np.median(vals))
                s[f"mean_{c}"] = float(np.mean(vals))
            out.append(s)
    return out


def table(summary: list[dict], taus, preset: str, route: str, seed: int) -> str:
    """The summary as a Markdown table: each summary metric's aggregate (medians over objects, rates)."""
    cols = summary_metrics(taus)
    head = (
        f"preset={preset} route={route} seed={seed}; medians over objects, rates for memory/"
        + "/".join(m.label.split()[0] for m in cols if m.aggregate == "rate")
        + f"; at domain = share of mesh area at |p| >= reconstruct.domain_radius. {INPUTS}\n\n"
    )
    lines = [
        "| split | SIREN | n | memory | " + " | ".join(m.label for m in cols) + " |",
        "|---|---|---|---|" + "---|" * len(cols),
    ]
    for s in summary:
        memory = f"{s['memory']:.0%}" if "memory" in s else "–"
        lines.append(
            f"| {s['split']} | {LABELS[s['kind']]} | {s['n']} | {memory} | "
            + " | ".join(m.fmt.format(s[m.summary_key]) for m in cols)
            + " |"
        )
    return head + "\n".join(lines) + "\n"


def picture(path, objects: list[RunObject], paths, n_max: int, kinds: tuple[str, ...]) -> None:
    """One row per object: ground truth and each of `kinds` (target, predicted, ...), rendered from one camera."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..render import thumbnail

    objs = objects[:n_max]
    fig, axes = plt.subplots(len(objs), 1 + len(kinds), figsize=(2 * (1 + len(kinds)), 2 * len(objs)), squeeze=False)
    for i, o in enumerate(objs):
        meshes = [paths.solid(o.id)] + [paths.mesh(o.id, k) for k in kinds]
        for j, (mp, title) in enumerate(zip(meshes, ("ground truth",) + tuple(LABELS[k] for k in kinds))):
            ax = axes[i, j]
            ax.axis("off")
            mesh = trimesh.load(mp, force="mesh", process=False) if mp.exists() else trimesh.Trimesh()
            ax.imshow(thumbnail(mesh))
            if not len(mesh.faces):
                ax.text(0.5, 0.5, "empty", ha="center", va="center", transform=ax.transAxes)
            if i == 0:
                ax.set_title(title, fontsize=9)
        axes[i, 0].text(
            -0.05,
            0.5,
            f"{o.id}\n({o.split})",
            transform=axes[i, 0].transAxes,
            ha="right",
            va="center",
            fontsize=7,
        )
    fig.tight_layout()

    def write(p):
        fig.savefig(p, dpi=80, format="png")

    atomic_write(path, write)
    plt.close(fig)


def run(cfg) -> dict:
    stage = Stage(cfg, "90_reconstruct")
    p, rc = stage.paths, cfg.reconstruct
    num = numerics_of(cfg)
    spec = shape_spec(cfg)
    field = routes.get(cfg.mapper.route).field(cfg, p, num.device)  # what 80's parameters draw
    kinds = scored_kinds(cfg)

    def work(objs):
        (o,) = objs
        gen = rng(cfg.seed, "90", o.id)
        truth = ground_truth(p, o.id, rc, gen)
        shapes = load_torch(p.shape_sirens(o.id))
        chunk = cfg.device.eval_chunk
        fields = dict(target=siren_field(spec, load_torch(p.target(o.id))["flat"], num.device, chunk, num.compile))
        fields.update({k: field.numpy(shapes[k], num.device, chunk) for k in kinds if k != "target"})
        rows, drawn = [], None
        for kind in kinds:
            if kind in REFINEMENTS:  # scored on the same draws from gen: they differ by their fields alone
                drawn = drawn or gen.bit_generator.state
                gen.bit_generator.state = drawn
            m, mesh = score_field(fields[kind], truth, rc, gen)
            save_mesh(p.mesh(o.id, kind), mesh)
            # memory is what 80 recorded from the route, for each of 80's fields (all start from its prediction)
            memory = {} if kind == "target" else dict(memory=bool(shapes["memory"]))
            rows.append(dict(id=o.id, split=o.split, kind=kind, gt_genus=truth["genus"], **memory, **m))
        return {o.id: dict(rows=rows)}

    objects = evaluated(cfg, stage.objects())  # eval_splits: e.g. the test objects alone
    stage.run_objects(objects, outputs=lambda o: [p.mesh(o.id, k) for k in kinds], work=work)
    pending = stage.pending(objects)
    if pending:  # sharded: the job that scores the last object writes the summary
        stage.log.info("the summary waits for %d objects of other shards (e.g. %s)", len(pending), pending[0])
        return stage.finish()

    records = {
        o.id: stage.manifest.get(o.id) or dict(status="missing", key=None, reason="not run yet") for o in objects
    }
    done = [o for o in objects if records[o.id]["status"] == "done"]
    files = [p.summary_json, p.summary_md, p.metrics_csv] + ([p.summary_png] if done else [])
    stage.shared(
        "summary",
        files,
        lambda: write_summary(stage, objects, records, done),
        inputs=(
            sorted((i, r["key"], r["status"], r.get("reason")) for i, r in records.items()),
            [(o.id, o.status, o.reason) for o in load_objects(p.objects)],
        ),
    )
    print("\n" + p.summary_md.read_text())
    stage.log.info("summary: %s, %s, %s, %s", p.summary_md, p.summary_json, p.metrics_csv, p.summary_png)
    if cfg.curves.keep:  # the convergence figure, made before the page that shows it
        write_figure(p)
    inputs = (stage.manifest.get("summary", shared=True)["key"], page_inputs(p))  # remade when a picture comes
    stage.shared("page", [p.index_html], lambda: dict(bytes=write_page(p).stat().st_size), inputs=inputs)
    stage.log.info("results page: %s (%.1f MB)", p.index_html, p.index_html.stat().st_size / 1e6)
    return stage.finish()


def write_summary(stage, objects: list[RunObject], records: dict, done: list[RunObject]) -> dict:
    """summary.json/.md, metrics.csv and the picture, from every object's record."""
    cfg, p, rc = stage.cfg, stage.paths, stage.cfg.reconstruct
    rows = [r for o in done for r in records[o.id]["rows"]]
    columns = metric_columns(rc.taus)
    summary = summarise(rows, columns)
    failed = {o.id: f"01_download: {o.reason}" for o in load_objects(p.objects) if not o.fetched}
    failed.update({o.id: records[o.id].get("reason") for o in objects if records[o.id]["status"] != "done"})
    text = table(summary, rc.taus, cfg.preset, cfg.mapper.route.value, cfg.seed)
    if readout_seed(cfg) != cfg.seed:
        text += f"\nReadout (autoencoder, mapper, refinement) seed {readout_seed(cfg)}.\n"
    if set(cfg.eval_splits) != {s.value for s in Subset}:
        text += f"\nOnly the {' and '.join(cfg.eval_splits)} split was made (80) and scored (eval_splits).\n"
    if failed:
        text += f"\n{len(failed)} object(s) failed and are not in the table:\n" + "".join(
            f"- {k}: {v}\n" for k, v in failed.items()
        )
    save_json(
        p.summary_json,
        dict(
            preset=cfg.preset,
            route=cfg.mapper.route.value,
            seed=cfg.seed,
            readout_seed=readout_seed(cfg),
            eval_splits=list(cfg.eval_splits),
            summary=summary,
            failed=failed,
            rows=rows,
        ),
    )
    atomic_write(p.summary_md, lambda f: f.write_text(text))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "split", "kind", "gt_genus", "memory", "genus", *columns])
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) for k in w.fieldnames})
    atomic_write(p.metrics_csv, lambda f: f.write_text(buf.getvalue()))
    if done:
        picture(p.summary_png, done, p, rc.picture_objects, scored_kinds(cfg))
    return dict(objects=len(done), failed=len(failed))
