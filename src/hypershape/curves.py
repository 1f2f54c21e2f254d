"""Every fit's loss curve, as the stages keep them (runtime.Stage.keep_curve: one JSON file per object and
kind of fit, one per shared artifact), turned into TensorBoard events per stage and 90's convergence figure.

Both are made from the kept files alone, after the stage has run (pipeline.run_stage), so a rerun rewrites
them whole instead of appending to them, and a change here makes no trained output stale. Events are
written with the tensorboard package's own record writer and protobufs (what torch.utils.tensorboard's
SummaryWriter writes through) rather than SummaryWriter itself: SummaryWriter stamps its first event with
the time of day and names its file after the time, host and process, while here every event's wall time
is its step and the file has a fixed name, so the same curves give the same bytes (runs, shards and
reruns compare equal) and a rerun replaces the file (by rename) instead of adding one."""

from __future__ import annotations

import fcntl
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .objects import load_objects
from .paths import Paths, paths_of
from .records import Manifest, atomic_write, load_json, remove_temporaries

FIT_STAGES = ("40_image_sirens", "50_hypernets", "60_weight_ae", "70_mapper", "80_shape_sirens")
"""The stages that fit networks, in running order."""
EVENTS_FILE = "events.out.tfevents.hypershape"
"""TensorBoard reads any file whose name holds "tfevents"; a fixed name lets a rerun replace it."""
PERCENTILES = (10, 90)
"""The band drawn around the median of the per-object curves."""


@dataclass
class StageCurves:
    """The kept curves of one stage's current outputs."""

    objects: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """{kind of fit: {object id: loss per step}}, objects in the catalogue's order."""
    shared: dict[str, np.ndarray] = field(default_factory=dict)
    """{shared artifact: loss per step}."""


def stage_curves(paths: Paths, stage: str) -> StageCurves:
    """The curves kept by `stage` for what its manifest records as done: the file of an object that failed
    since, or of an object no longer in the catalogue, is not read."""
    manifest = Manifest(paths.manifest(stage), paths.root)
    ids = [o.id for o in load_objects(paths.objects)] if paths.objects.exists() else []
    out = StageCurves()
    fits = paths.object_curves(stage)
    for fit in sorted(f.name for f in fits.iterdir()) if fits.is_dir() else []:
        kept = {i: paths.curve(stage, fit, i) for i in ids}
        got = {i: _loss(f) for i, f in kept.items() if f.exists() and manifest.is_done(i)}
        if got:
            out.objects[fit] = got
    shared = paths.shared_curves(stage)
    for f in sorted(shared.glob("*.json")) if shared.is_dir() else []:
        if manifest.is_done(f.stem, shared=True):
            out.shared[f.stem] = _loss(f)
    return out


def _loss(path: Path) -> np.ndarray:
    return np.asarray(load_json(path)["loss"], dtype=np.float64)


def spread(curves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per step over objects: the median and the PERCENTILES (keys median, p10, p90). Curves of unequal
    length (objects fitted under other step counts) are cut to the shortest."""
    n = min(len(c) for c in curves.values())
    stacked = np.stack([c[:n] for c in curves.values()])
    out = {"median": np.median(stacked, axis=0)}
    for q in PERCENTILES:
        out[f"p{q}"] = np.percentile(stacked, q, axis=0)
    return out


def write_events(paths: Paths, stage: str, objects: int) -> Path | None:
    """The stage's TensorBoard events, from its kept curves: per kind of fit the spread over objects and
    the own curves of the first `objects` objects, and each shared artifact's curve; tags begin with the
    stage's folder. Replaces the previous file; returns it, or None (and removes it) when nothing was kept."""
    kept = stage_curves(paths, stage)
    out = paths.events(stage) / EVENTS_FILE
    if not kept.objects and not kept.shared:
        out.unlink(missing_ok=True)
        return None
    series, layout = {}, {}
    for fit, curves in kept.objects.items():
        tag = f"{stage}/{fit}"
        series.update({f"{tag}/{name}": s for name, s in spread(curves).items()})
        series.update({f"{tag}/object/{i}": curves[i] for i in list(curves)[:objects]})
        bounds = [f"{tag}/p{q}" for q in PERCENTILES]
        layout[tag] = {"median, 10-90% of objects": ["Margin", [f"{tag}/median", *bounds]]}
    series.update({f"{stage}/{artifact}": curve for artifact, curve in kept.shared.items()})
    remove_temporaries([out])  # a killed earlier write's; publish holds the stage's lock, so none is live
    atomic_write(out, lambda p: _write_events(p, series, layout))
    return out


def _write_events(path: Path, series: dict[str, np.ndarray], layout: dict) -> None:
    """An event file of scalar series ({tag: value per step}) and a custom-scalars layout (the tab that
    draws each median inside its band). The wall time of every event is its step, so the bytes depend on
    the series alone."""
    # imported here: the first import takes seconds, and only this needs them
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter
    from torch.utils.tensorboard.summary import custom_scalars

    with open(path, "wb") as f:
        records = RecordWriter(f)
        records.write(Event(wall_time=0.0, file_version="brain.Event:2").SerializeToString())
        if layout:
            records.write(Event(wall_time=0.0, summary=custom_scalars(layout)).SerializeToString())
        for tag, values in series.items():
            for step, v in enumerate(values):
                value = Summary(value=[Summary.Value(tag=tag, simple_value=float(v))])
                records.write(Event(wall_time=float(step), step=step, summary=value).SerializeToString())


@dataclass
class Panel:
    """One panel of the convergence figure."""

    title: str
    objects: dict[str, np.ndarray] | None
    """Per-object curves drawn as median and band, or None."""
    lines: dict[str, np.ndarray]
    """Curves drawn as they are (anchors, shared artifacts)."""


def panels(paths: Paths) -> list[Panel]:
    """One panel per kind of per-object fit and per shared artifact, in running order; a stage's anchor is
    drawn in its first per-object panel (its objects start from it) rather than in one of its own."""
    out = []
    for stage in FIT_STAGES:
        kept = stage_curves(paths, stage)
        lines = dict(kept.shared)
        anchor = {"anchor": lines.pop("anchor")} if "anchor" in lines and kept.objects else {}
        for j, (fit, curves) in enumerate(kept.objects.items()):
            out.append(Panel(f"{stage[:2]} {fit}", curves, anchor if j == 0 else {}))
        out += [Panel(f"{stage[:2]} {name}", None, {name: curve}) for name, curve in lines.items()]
    return out


def figure(shown: list[Panel]):
    """The convergence figure of these panels, loss on a log axis against the step: a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, max(1, len(shown)))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[len(shown) :]:
        ax.remove()
    for ax, panel in zip(axes.flat, shown):
        if panel.objects:
            s = spread(panel.objects)
            steps = np.arange(len(s["median"]))
            ax.fill_between(steps, s["p10"], s["p90"], alpha=0.3, label="10-90% of objects")
            ax.plot(steps, s["median"], label=f"median of {len(panel.objects)} objects")
        for name, curve in panel.lines.items():
            ax.plot(np.arange(len(curve)), curve, "--" if panel.objects else "-", label=name)
        ax.set_yscale("log")
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7)
    return fig


def write_figure(paths: Paths) -> Path | None:
    """90's convergence figure (paths.curves_png), from every stage's kept curves; None if none was kept."""
    shown = panels(paths)
    if not shown:
        return None
    import matplotlib.pyplot as plt

    fig = figure(shown)
    atomic_write(paths.curves_png, lambda p: fig.savefig(p, dpi=80, format="png"))
    plt.close(fig)
    return paths.curves_png


def publish(cfg, stage: str) -> None:
    """After a stage that fits networks has run: its events (90 draws the figure itself). Shards of a stage
    publish one at a time, each from every record there is when its turn comes: the last to publish comes
    after every job's records, so what stays is complete (two could otherwise read, then write in turn,
    and the one that read first, before the other's records, would write last)."""
    if not cfg.curves.keep or stage not in FIT_STAGES:
        return
    paths = paths_of(cfg)
    lock = paths.curves_lock(stage)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # released when the file is closed
        write_events(paths, stage, cfg.curves.objects)
