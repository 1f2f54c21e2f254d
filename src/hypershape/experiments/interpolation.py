"""Experiment 4: paths between pairs of objects, interpolated in the autoencoder latent, in raw
shape-SIREN weights, in route decoder's auto-decoded latents (through its shared decoder), and (a reference
that needs no network) in the ground-truth SDF itself. Every mode walks the same pairs; with the decoder's
mode they are drawn among its training objects, the only ones with an auto-decoded latent."""

from __future__ import annotations

import itertools

import numpy as np
import torch
import trimesh

from ..errors import UserError
from ..geometry.marching import grid_points, mesh_from_grid, mesh_from_sdf
from ..geometry.metrics import WORST_CHAMFER, chamfer
from ..geometry.sdf import sample_surface, signed_distance
from ..geometry.topology import topology
from ..nets.shape_decoder import load_decoder
from ..nets.siren import siren_field
from ..nets.weight_ae import WeightAE
from ..paths import SCRIPTS, Paths, paths_of
from ..pipeline import run_all, run_stage
from ..records import Manifest
from ..render import thumbnail
from ..routes.base import DecoderField
from ..runtime import device_of, load_torch, rng
from ..stages.common import shape_spec
from .common import save_figure, variant, write_result

DECODER = "decoder latent"
"""The mode that walks route decoder's auto-decoded latents (its 70's mapper.pt)."""
MODES = ("latent", "weights", "sdf", DECODER)
CHAMFER_POINTS = 5000


def pairs_of(cfg, ids: list[str]) -> list[tuple[str, str]]:
    """`experiment.interpolation.pairs` distinct pairs of objects, drawn with the run's seed."""
    all_pairs = list(itertools.combinations(sorted(ids), 2))
    order = rng(cfg.seed, "pairs").permutation(len(all_pairs))
    return [all_pairs[i] for i in order[: cfg.experiment.interpolation.pairs]]


class PathMeshes:
    """Meshes along a path in each mode, for one run."""

    def __init__(self, cfg):
        self.cfg, self.p, self.dev = cfg, paths_of(cfg), device_of(cfg)
        self.interp = cfg.experiment.interpolation
        self.spec = shape_spec(cfg)
        anchor = load_torch(self.p.shape_anchor)["flat"].to(self.dev)
        self.ae = WeightAE.load(load_torch(self.p.weight_ae), cfg.weight_ae, anchor)
        self.latents = load_torch(self.p.latents)["latents"]
        self.grid = grid_points(self.interp.resolution, cfg.reconstruct.bound)
        self._sdf: dict[str, np.ndarray] = {}
        self._decoder: dict | None = None

    def decoder(self) -> dict:
        """Route decoder's shared decoder and {training object: its auto-decoded latent}, read once."""
        if self._decoder is None:
            ckpt = load_torch(Paths(self.cfg.data_dir, self.cfg.name, "decoder").mapper)
            codes = dict(zip(ckpt["train_ids"], ckpt["codes"].to(self.dev)))
            self._decoder = dict(decoder=load_decoder(ckpt["decoder"], self.dev), codes=codes)
        return self._decoder

    def gt_sdf(self, obj_id: str) -> np.ndarray:
        if obj_id not in self._sdf:
            solid = trimesh.load(self.p.solid(obj_id), force="mesh", process=False)
            self._sdf[obj_id] = signed_distance(solid, self.grid).reshape((self.interp.resolution,) * 3)
        return self._sdf[obj_id]

    def field_mesh(self, field) -> trimesh.Trimesh:
        return mesh_from_sdf(field, self.interp.resolution, self.cfg.reconstruct.bound)

    def siren_mesh(self, flat: torch.Tensor) -> trimesh.Trimesh:
        return self.field_mesh(siren_field(self.spec, flat, self.dev, self.cfg.device.eval_chunk))

    def decoder_mesh(self, z: torch.Tensor) -> trimesh.Trimesh:
        return self.field_mesh(DecoderField(self.decoder()["decoder"]).numpy(z, self.dev, self.cfg.device.eval_chunk))

    def meshes(self, a: str, b: str, mode: str) -> list[trimesh.Trimesh]:
        ts = np.linspace(0.0, 1.0, self.interp.steps)
        if mode == "sdf":
            A, B = self.gt_sdf(a), self.gt_sdf(b)
            return [mesh_from_grid((1 - t) * A + t * B, self.cfg.reconstruct.bound) for t in ts]
        if mode == DECODER:
            za, zb = (self.decoder()["codes"][i] for i in (a, b))
            return [self.decoder_mesh((1 - t) * za + t * zb) for t in ts]
        if mode == "latent":
            za, zb = self.latents[a].to(self.dev), self.latents[b].to(self.dev)
            with torch.no_grad():
                flats = [self.ae.decode(((1 - t) * za + t * zb)[None])[0] for t in ts]
        else:
            wa, wb = (load_torch(self.p.target(i))["flat"] for i in (a, b))
            flats = [(1 - t) * wa + t * wb for t in ts]
        return [self.siren_mesh(f) for f in flats]


def path_stats(meshes: list[trimesh.Trimesh], gen) -> dict:
    """Validity (non-empty, closed manifold, one component), the largest Chamfer jump between neighbours
    over the Chamfer distance of the two ends, and how often the topology changes along the path."""
    topo = [topology(m) for m in meshes]
    valid = [len(m.faces) > 0 and t["closed_manifold"] and t["components_filtered"] == 1 for m, t in zip(meshes, topo)]
    pts = [sample_surface(m, CHAMFER_POINTS, gen)[0] if len(m.faces) else None for m in meshes]

    def cd(p, q):
        return WORST_CHAMFER if p is None or q is None else chamfer(p, q)[0]

    jumps = [cd(pts[i], pts[i + 1]) for i in range(len(pts) - 1)]
    ends = cd(pts[0], pts[-1])
    signature = [
        (tuple(sorted(g if g is not None else -1 for g in t["genus"])), t["components_filtered"]) for t in topo
    ]
    return dict(
        valid=float(np.mean(valid)),
        jump_ratio=float(max(jumps) / max(ends, 1e-9)),
        topology_changes=int(sum(signature[i] != signature[i + 1] for i in range(len(signature) - 1))),
        genera=[s[0] for s in signature],
    )


def interpolate_pairs(cfg, modes=MODES, strips: bool = True) -> tuple[list[dict], list[dict]]:
    """Per-pair rows and per-mode summary rows for one run (its targets, autoencoder and latents; with the
    decoder's mode, route decoder's 70)."""
    p = paths_of(cfg)
    m = Manifest(p.manifest("60_weight_ae"), p.root)
    done = [i for i in m.ids() if m.is_done(i) and p.target(i).exists()]
    ps = PathMeshes(cfg)
    if DECODER in modes:  # pairs every mode can walk
        done = [i for i in done if i in ps.decoder()["codes"]]
    if len(done) < 2:
        raise UserError(f"interpolation: {len(done)} object(s) with every mode's code ({', '.join(modes)}): need 2")
    per_pair = []
    for a, b in pairs_of(cfg, done):
        strip = {}
        for mode in modes:
            meshes = ps.meshes(a, b, mode)
            per_pair.append(dict(pair=f"{a} → {b}", mode=mode, **path_stats(meshes, rng(cfg.seed, "interp", a, b))))
            strip[mode] = meshes
        if strips:
            save_figure(strip_figure(strip, a, b), p.experiment("interpolation") / f"strip_{a}__{b}.png")
    summary = []
    for mode in modes:
        sel = [r for r in per_pair if r["mode"] == mode]
        summary.append(
            {
                "mode": mode,
                "pairs": len(sel),
                "valid share": float(np.mean([r["valid"] for r in sel])),
                "median jump ratio": float(np.median([r["jump_ratio"] for r in sel])),
                "max jump ratio": float(np.max([r["jump_ratio"] for r in sel])),
                "topology changes / path": float(np.mean([r["topology_changes"] for r in sel])),
            }
        )
    return per_pair, summary


def strip_figure(strip: dict, a: str, b: str):
    import matplotlib.pyplot as pyplot

    modes = list(strip)
    n = len(strip[modes[0]])
    fig, axes = pyplot.subplots(len(modes), n, figsize=(1.3 * n, 1.4 * len(modes)), squeeze=False)
    for i, mode in enumerate(modes):
        for j, m in enumerate(strip[mode]):
            axes[i, j].imshow(thumbnail(m, 96))
            axes[i, j].axis("off")
        axes[i, 0].text(-0.1, 0.5, mode, transform=axes[i, 0].transAxes, ha="right", va="center", fontsize=8)
    fig.suptitle(f"{a} → {b}", fontsize=8)
    return fig


def run(cfg) -> str:
    run_all(cfg)
    # the decoder's mode reads route decoder's 70 of this run (made here when its route is another)
    run_stage(SCRIPTS["70_mapper"], variant(cfg, None, **{"mapper.route": "decoder"}))
    per_pair, summary = interpolate_pairs(cfg)
    return write_result(
        cfg,
        "interpolation",
        "Experiment 4: interpolation",
        f"{cfg.experiment.interpolation.steps} meshes per path (ends included), marching cubes at "
        f"{cfg.experiment.interpolation.resolution}³. Pairs of route decoder's training objects (the only ones "
        f"with an auto-decoded latent); '{DECODER}' decodes the blended latent through its shared decoder. "
        "valid = non-empty, closed manifold, one component (≥1% "
        "area); jump ratio = largest Chamfer-L1 between neighbouring steps / Chamfer-L1 of the "
        "two ends (1/(steps−1) is perfectly even); strips are strip_*.png beside this table.",
        ["mode", "pairs", "valid share", "median jump ratio", "max jump ratio", "topology changes / path"],
        summary,
        extra={"pairs": per_pair},
    )
