"""What made an output: the config a stage's per-object work reads, the numerics of the device, and the
code it runs (its module and everything it imports from the package). Keys are built from these, so
changing any of them makes the output stale; `status` reads them without importing torch."""

from __future__ import annotations

import ast
import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

from .config import readout_seed, section

PACKAGE_DIR = Path(__file__).resolve().parent

# Stages whose numbers depend on the torch device's numerics (TF32, autocast, compile, CPU vs CUDA).
DEVICE_STAGES = ("40_image_sirens", "50_hypernets", "60_weight_ae", "70_mapper", "80_shape_sirens", "90_reconstruct")

# The data fields 02 reads (stages/watertight.py); the others choose objects and splits, or only warn.
WATERTIGHT_DATA = (
    "solid_resolution",
    "thin_voxels",
    "radius",
    "sdf_pool",
    "sdf_samples",
    "surface_samples",
    "uniform_samples",
    "beta",
    "eval_surface_points",
    "faithfulness_points",
    "faithfulness_distance",
)


def _without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def object_config(cfg, stage: str) -> dict:
    """The part of cfg that one object's output of `stage` depends on (shared artifacts such as anchors
    enter the object's key through their own keys). Fields that only change speed are left out."""
    if stage == "01_download":
        return dict(data=_without(section(cfg, "data"), "download_timeout_s", "train_limit"), seed=cfg.seed)
    if stage == "02_watertight":
        d = section(cfg, "data")
        return dict(data={k: d[k] for k in WATERTIGHT_DATA}, bound=cfg.reconstruct.bound, seed=cfg.seed)
    if stage == "03_render_views":
        return dict(render=section(cfg, "render"))
    if stage == "40_image_sirens":
        return dict(image_siren=_without(section(cfg, "image_siren"), "pixel_chunk"), seed=cfg.seed)
    if stage == "50_hypernets":
        return dict(hypernet=section(cfg, "hypernet"), seed=cfg.seed)
    if stage == "60_weight_ae":
        return dict(
            shape_siren=_without(section(cfg, "shape_siren"), "refine"),
            shared_anchor=cfg.weight_ae.shared_anchor,
            seed=cfg.seed,
        )
    if stage == "70_mapper":  # seed: the sketch; readout_seed: the mapper's init (its train subset is an input)
        return dict(mapper=section(cfg, "mapper"), seed=cfg.seed, readout_seed=readout_seed(cfg))
    if stage == "80_shape_sirens":
        return dict(refine=section(cfg, "shape_siren")["refine"], readout_seed=readout_seed(cfg))
    if stage == "90_reconstruct":
        return dict(reconstruct=_without(section(cfg, "reconstruct"), "picture_objects"), seed=cfg.seed)
    raise KeyError(stage)


def shared_config(cfg, stage: str, artifact: str) -> dict:
    """The part of cfg a shared artifact of `stage` depends on (its inputs enter its key separately)."""
    if stage == "60_weight_ae" and artifact == "anchor":
        return dict(shape_siren=_without(section(cfg, "shape_siren"), "refine"), seed=cfg.seed)
    if stage == "60_weight_ae":  # the autoencoder and the latents it gives (its train subset is an input)
        return dict(weight_ae=section(cfg, "weight_ae"), readout_seed=readout_seed(cfg))
    if stage == "90_reconstruct":  # the summary and its picture
        return dict(reconstruct=section(cfg, "reconstruct"), seed=cfg.seed)
    return object_config(cfg, stage)


def numerics(cfg) -> dict:
    """Device settings that change a trained network's numbers (threads and the index do not)."""
    d = cfg.device
    out = dict(kind=d.kind, compile=d.compile, autocast=d.autocast)
    if d.kind == "cuda":
        out["tf32"] = d.tf32
    return out


# ---------------------------------------------------------------- code
def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _imports(name: str, path: Path) -> set[str]:
    """Package modules that `name` (at `path`) imports, at any depth of its code (lazy imports too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from . import x` may name a module
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.split(".")[0] == PACKAGE_DIR.name}


@lru_cache(maxsize=None)
def code_version(module: str) -> str:
    """A hash of the source of `module` and of every package module it imports, transitively (with the
    packages' __init__ files that importing them runs)."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        parents = [".".join(name.split(".")[:i]) for i in range(1, len(name.split(".")))]
        todo += parents + sorted(_imports(name, path))
    h = hashlib.sha1()
    for name in sorted(seen):
        h.update(name.encode() + b"\0" + seen[name].read_bytes() + b"\0")
    return h.hexdigest()[:16]


def stage_code(stage: str) -> str:
    from .paths import MODULES

    return code_version(f"{PACKAGE_DIR.name}.stages.{MODULES[stage]}")


@lru_cache(maxsize=1)
def git_version() -> dict:
    """The commit of the checkout the package runs from, and whether its code differs from it."""
    root = PACKAGE_DIR.parents[1]
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, timeout=10)  # noqa: E731
        commit = run("rev-parse", "HEAD")
        if commit.returncode != 0:
            return dict(commit=None)
        dirty = run("status", "--porcelain", "--", "src", "configs")
        return dict(commit=commit.stdout.strip(), dirty=bool(dirty.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        return dict(commit=None)
