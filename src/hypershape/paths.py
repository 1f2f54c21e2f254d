"""Every path under the data directory: the stage folders and every file a stage writes are named here
(the manifest names the records inside its own folder, an experiment the files inside its own), so the
layout below is the whole truth:

    <data_dir>/<name>/
      overrides.yaml                           (the overrides the run was made with: settings.py)
      branched_from.json                       (a run branched from another: sweeps, experiment variants)
      01_download/      objects.json, raw/<id>.<ext>
      02_watertight/    objects/<id>/solid.ply, samples.npz, surface.npz, topology.json
      03_render_views/  objects/<id>.npz       (rgba, depth, K, cam_to_world, directions)
      40_image_sirens/  shared/anchor.pt, objects/<id>.pt     (24 SIRENs + PSNR per view)
      50_hypernets/     shared/anchor.pt, objects/<id>.pt
      60_weight_ae/     shared/anchor.pt, shared/weight_ae.pt, shared/latents.pt, shared/diagnostics.json,
                        objects/<id>.pt        (the target shape-SIRENs)
      70_mapper/<route>/        shared/mapper.pt
      80_shape_sirens/<route>/  objects/<id>.pt          (predicted and refined)
      90_reconstruct/<route>/   meshes/<id>_<kind>.ply, metrics.csv, summary.json, summary.md, summary.png,
                                index.html             (the results page: page.py)
                                curves.png             (every fit's convergence: curves.py)
      experiments/<experiment>/ table.md, table.json, *.png   (experiment.py; variants are sibling runs)
      report.md                                                (report.py)
      export/           image_sirens.h5, hypernets.h5, shape_sirens_target.h5,
                        shape_sirens_<route>_predicted.h5, shape_sirens_<route>_refined.h5 (export.py)
    every stage folder also holds manifest/ (one record per object and per shared artifact: what is done,
    from what), claims/ (who is making what right now), config.yaml and code.json (the resolved config and
    code version of its last run), and log.txt. Every stage that fits networks (40-80) also holds
    curves/objects/<fit>/<id>.json and curves/shared/<artifact>.json (each fit's loss per step) and
    tensorboard/ (those curves as TensorBoard events: `tensorboard --logdir <data_dir>/<name>`).

Objects and shared artifacts never share a folder, so no object id (a local file named `anchor.ply`)
can overwrite an anchor.
"""

from __future__ import annotations

from pathlib import Path

from .stage_specs import STAGES

# Views of the stage table (stage_specs.py): the stage folders in running order, and the script of each.
STAGE_DIRS = tuple(STAGES)
SCRIPTS = {folder: spec.script for folder, spec in STAGES.items()}


class Paths:
    """Paths of one run (one data_dir/name); routed stages get one folder per mapper route."""

    def __init__(self, data_dir: str | Path, name: str, route: str = "latent"):
        self.root = Path(data_dir) / name
        self.route = route

    def stage(self, stage: str) -> Path:
        d = self.root / stage
        return d / self.route if STAGES[stage].routed else d

    def objects_dir(self, stage: str) -> Path:
        return self.stage(stage) / "objects"

    def shared_dir(self, stage: str) -> Path:
        return self.stage(stage) / "shared"

    def manifest(self, stage: str) -> Path:
        return self.stage(stage) / "manifest"

    def claims(self, stage: str) -> Path:
        return self.stage(stage) / "claims"

    def log(self, stage: str) -> Path:
        return self.stage(stage) / "log.txt"

    def run_config(self, stage: str) -> Path:
        return self.stage(stage) / "config.yaml"

    def code_version(self, stage: str) -> Path:
        return self.stage(stage) / "code.json"

    def object_curves(self, stage: str) -> Path:
        """The folder of a stage's per-object loss curves: one subfolder per kind of fit."""
        return self.stage(stage) / "curves" / "objects"

    def curve(self, stage: str, fit: str, obj_id: str) -> Path:
        """The loss curve of one object's fit of kind `fit` (a stage may fit an object more than once)."""
        return self.object_curves(stage) / fit / f"{obj_id}.json"

    def curves_of(self, stage: str, obj_id: str) -> list[Path]:
        """Where one object's curves of every kind of fit in a stage are (those that exist or not)."""
        d = self.object_curves(stage)
        return [self.curve(stage, fit.name, obj_id) for fit in sorted(d.iterdir())] if d.is_dir() else []

    def shared_curves(self, stage: str) -> Path:
        return self.stage(stage) / "curves" / "shared"

    def shared_curve(self, stage: str, artifact: str) -> Path:
        return self.shared_curves(stage) / f"{artifact}.json"

    def curves_lock(self, stage: str) -> Path:
        """Held while the stage's kept curves are read and published (shards publish one at a time)."""
        return self.claims(stage) / "curves.lock"

    def events(self, stage: str) -> Path:
        """The folder of the stage's TensorBoard events (one file, rewritten whole from the kept curves)."""
        return self.stage(stage) / "tensorboard"

    @property
    def overrides(self) -> Path:
        return self.root / "overrides.yaml"

    @property
    def branched_from(self) -> Path:
        return self.root / "branched_from.json"

    # 01
    @property
    def objects(self) -> Path:
        return self.stage("01_download") / "objects.json"

    def raw_mesh(self, obj_id: str, suffix: str = ".ply") -> Path:
        return self.stage("01_download") / "raw" / f"{obj_id}{suffix}"

    # 02
    def solid(self, obj_id: str) -> Path:
        return self.objects_dir("02_watertight") / obj_id / "solid.ply"

    def sdf_samples(self, obj_id: str) -> Path:
        return self.objects_dir("02_watertight") / obj_id / "samples.npz"

    def surface(self, obj_id: str) -> Path:
        return self.objects_dir("02_watertight") / obj_id / "surface.npz"

    def topology(self, obj_id: str) -> Path:
        return self.objects_dir("02_watertight") / obj_id / "topology.json"

    # 03
    def views(self, obj_id: str) -> Path:
        return self.objects_dir("03_render_views") / f"{obj_id}.npz"

    # 40, 50
    @property
    def image_anchor(self) -> Path:
        return self.shared_dir("40_image_sirens") / "anchor.pt"

    def image_sirens(self, obj_id: str) -> Path:
        return self.objects_dir("40_image_sirens") / f"{obj_id}.pt"

    @property
    def hypernet_anchor(self) -> Path:
        return self.shared_dir("50_hypernets") / "anchor.pt"

    def hypernet(self, obj_id: str, copy: int = 0) -> Path:
        """The object's hypernetwork (copy 0), or another one fitted with another seed (hypernet.copies)."""
        return self.objects_dir("50_hypernets") / (f"{obj_id}.pt" if copy == 0 else f"{obj_id}.copy{copy}.pt")

    # 60
    @property
    def shape_anchor(self) -> Path:
        return self.shared_dir("60_weight_ae") / "anchor.pt"

    def target(self, obj_id: str) -> Path:
        return self.objects_dir("60_weight_ae") / f"{obj_id}.pt"

    @property
    def weight_ae(self) -> Path:
        return self.shared_dir("60_weight_ae") / "weight_ae.pt"

    @property
    def latents(self) -> Path:
        return self.shared_dir("60_weight_ae") / "latents.pt"

    @property
    def ae_diagnostics(self) -> Path:
        return self.shared_dir("60_weight_ae") / "diagnostics.json"

    # 70, 80
    @property
    def mapper(self) -> Path:
        return self.shared_dir("70_mapper") / "mapper.pt"

    def shape_sirens(self, obj_id: str) -> Path:
        return self.objects_dir("80_shape_sirens") / f"{obj_id}.pt"

    # 90
    def mesh(self, obj_id: str, kind: str) -> Path:
        return self.stage("90_reconstruct") / "meshes" / f"{obj_id}_{kind}.ply"

    @property
    def metrics_csv(self) -> Path:
        return self.stage("90_reconstruct") / "metrics.csv"

    @property
    def summary_json(self) -> Path:
        return self.stage("90_reconstruct") / "summary.json"

    @property
    def summary_md(self) -> Path:
        return self.stage("90_reconstruct") / "summary.md"

    @property
    def summary_png(self) -> Path:
        return self.stage("90_reconstruct") / "summary.png"

    @property
    def index_html(self) -> Path:
        return self.stage("90_reconstruct") / "index.html"

    # export.py
    def export(self, kind: str) -> Path:
        """The HDF5 shard of one kind of network (export.py): image_sirens, hypernets, shape_sirens_..."""
        return self.root / "export" / f"{kind}.h5"

    @property
    def curves_png(self) -> Path:
        return self.stage("90_reconstruct") / "curves.png"

    # experiments
    def experiment(self, name: str) -> Path:
        return self.root / "experiments" / name

    @property
    def report(self) -> Path:
        return self.root / "report.md"


def paths_of(cfg) -> Paths:
    """The Paths of a composed config."""
    return Paths(cfg.data_dir, cfg.name, route=cfg.mapper.route.value)


def readout_paths(cfg) -> Paths:
    """The Paths of the run whose learned, shared parts cfg's run reads its objects with: readout_from's
    run, else its own."""
    return Paths(cfg.data_dir, cfg.readout_from or cfg.name, route=cfg.mapper.route.value)
