"""Every path under the data directory. No other module builds a path into it.

    <data_dir>/<name>/
      01_download/      objects.json, raw/<id>.<ext>
      02_watertight/    <id>/solid.ply, samples.npz, surface.npz, topology.json
      03_render_views/  <id>.npz                 (rgba, depth, K, cam_to_world, directions)
      40_image_sirens/  anchor.pt, <id>.pt       (24 SIRENs + PSNR per view)
      50_hypernets/     anchor.pt, <id>.pt
      60_weight_ae/     anchor.pt, targets/<id>.pt, weight_ae.pt, latents.pt, diagnostics.json
      70_mapper/<route>/        mapper.pt
      80_shape_sirens/<route>/  <id>.pt          (predicted and refined)
      90_reconstruct/<route>/   meshes/<id>_<kind>.ply, metrics.csv, summary.json, summary.md, summary.png
      experiments/<experiment>/ table.md, table.json, *.png   (experiment.py; variants are sibling runs)
      report.md                                                (report.py)
    every stage folder also holds manifest.json (what is done, from what) and log.txt
"""
from __future__ import annotations

from pathlib import Path

STAGES = ("01_download", "02_watertight", "03_render_views", "40_image_sirens", "50_hypernets",
          "60_weight_ae", "70_mapper", "80_shape_sirens", "90_reconstruct")
ROUTED = ("70_mapper", "80_shape_sirens", "90_reconstruct")
SCRIPTS = dict(zip(STAGES, ("01_download", "02_watertight", "03_render_views", "40_train_image_sirens",
                            "50_train_hypernets", "60_train_weight_ae", "70_train_mapper",
                            "80_train_shape_sirens", "90_reconstruct")))  # stage folder -> script at the root


class Paths:
    """Paths of one run (one data_dir/name); routed stages get one folder per mapper route."""

    def __init__(self, data_dir: str | Path, name: str, route: str = "latent"):
        self.root = Path(data_dir) / name
        self.route = route

    def stage(self, stage: str) -> Path:
        assert stage in STAGES, stage
        d = self.root / stage
        return d / self.route if stage in ROUTED else d

    def manifest(self, stage: str) -> Path:
        return self.stage(stage) / "manifest.json"

    def log(self, stage: str) -> Path:
        return self.stage(stage) / "log.txt"

    # 01
    @property
    def objects(self) -> Path:
        return self.stage("01_download") / "objects.json"

    def raw_mesh(self, obj_id: str, suffix: str = ".ply") -> Path:
        return self.stage("01_download") / "raw" / f"{obj_id}{suffix}"

    # 02
    def solid(self, obj_id: str) -> Path:
        return self.stage("02_watertight") / obj_id / "solid.ply"

    def sdf_samples(self, obj_id: str) -> Path:
        return self.stage("02_watertight") / obj_id / "samples.npz"

    def surface(self, obj_id: str) -> Path:
        return self.stage("02_watertight") / obj_id / "surface.npz"

    def topology(self, obj_id: str) -> Path:
        return self.stage("02_watertight") / obj_id / "topology.json"

    # 03
    def views(self, obj_id: str) -> Path:
        return self.stage("03_render_views") / f"{obj_id}.npz"

    # 40, 50
    @property
    def image_anchor(self) -> Path:
        return self.stage("40_image_sirens") / "anchor.pt"

    def image_sirens(self, obj_id: str) -> Path:
        return self.stage("40_image_sirens") / f"{obj_id}.pt"

    @property
    def hypernet_anchor(self) -> Path:
        return self.stage("50_hypernets") / "anchor.pt"

    def hypernet(self, obj_id: str) -> Path:
        return self.stage("50_hypernets") / f"{obj_id}.pt"

    # 60
    @property
    def shape_anchor(self) -> Path:
        return self.stage("60_weight_ae") / "anchor.pt"

    def target(self, obj_id: str) -> Path:
        return self.stage("60_weight_ae") / "targets" / f"{obj_id}.pt"

    @property
    def weight_ae(self) -> Path:
        return self.stage("60_weight_ae") / "weight_ae.pt"

    @property
    def latents(self) -> Path:
        return self.stage("60_weight_ae") / "latents.pt"

    @property
    def ae_diagnostics(self) -> Path:
        return self.stage("60_weight_ae") / "diagnostics.json"

    # 70, 80
    @property
    def mapper(self) -> Path:
        return self.stage("70_mapper") / "mapper.pt"

    def shape_sirens(self, obj_id: str) -> Path:
        return self.stage("80_shape_sirens") / f"{obj_id}.pt"

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


    # experiments
    def experiment(self, name: str) -> Path:
        return self.root / "experiments" / name

    @property
    def report(self) -> Path:
        return self.root / "report.md"


def paths_of(cfg) -> Paths:
    """The Paths of a composed config."""
    return Paths(cfg.data_dir, cfg.name, route=cfg.mapper.route.value)
