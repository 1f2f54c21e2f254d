"""What each of the nine stages is, in one table: its folder under the run, its script at the repository
root, its module in hypershape.stages, the stages it reads, and which part of the config keys its outputs.
paths, provenance, status, the pipeline, the stages and the checkpoint errors all read this table, so adding
a stage is one row here (plus its script and module). Imports no torch: `status` reads it and must start fast."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .config import readout_seed, section


def _without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


@dataclass(frozen=True)
class StageSpec:
    """One stage. object_config(cfg) is the part of cfg one object's output depends on (shared artifacts
    such as anchors enter the object's key through their own keys; fields that only change speed are left
    out); shared_config(cfg, artifact), where given, is the part a shared artifact depends on (its inputs
    enter its key separately), else it is object_config."""

    folder: str
    script: str
    module: str
    object_config: Callable[[Any], dict]
    upstream: tuple[str, ...] = ()
    routed: bool = False
    """One folder per mapper route (folder/<route>)."""
    device_dependent: bool = False
    """Its numbers depend on the torch device's numerics (TF32, autocast, compile, CPU vs CUDA)."""
    evaluated_only: bool = False
    """Makes only the objects of cfg.eval_splits (stages/common.py `evaluated`)."""
    shared_config: Callable[[Any, str], dict] | None = None
    makes: tuple[str, ...] = ()
    """The config sections of the networks whose checkpoints it writes (what to rerun when one mismatches)."""
    knobs: tuple[str, ...] = ()
    """The config sections (or dotted keys) it reads, in the order its --help shows them."""


# ---------------------------------------------------------------- the config part of each stage's key
def download_config(cfg) -> dict:
    return dict(data=_without(section(cfg, "data"), "download_timeout_s", "train_limit"), seed=cfg.seed)


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


def watertight_config(cfg) -> dict:
    """02's: the data fields that shape one object's solid and samples (an allow-list: a new data field
    that 02 does not read leaves its key as it is)."""
    d = section(cfg, "data")
    return dict(data={k: d[k] for k in WATERTIGHT_DATA}, bound=cfg.reconstruct.bound, seed=cfg.seed)


def render_config(cfg) -> dict:
    return dict(render=section(cfg, "render"))


def image_siren_config(cfg) -> dict:
    return dict(image_siren=_without(section(cfg, "image_siren"), "pixel_chunk"), seed=cfg.seed)


def hypernet_config(cfg) -> dict:
    return dict(hypernet=section(cfg, "hypernet"), seed=cfg.seed)


def target_config(cfg) -> dict:
    """60's targets and their anchor."""
    return dict(
        shape_siren=_without(section(cfg, "shape_siren"), "refine"),
        shared_anchor=cfg.weight_ae.shared_anchor,
        seed=cfg.seed,
    )


def weight_ae_shared_config(cfg, artifact: str) -> dict:
    if artifact == "anchor":
        return dict(shape_siren=_without(section(cfg, "shape_siren"), "refine"), seed=cfg.seed)
    # the autoencoder and the latents it gives (its train subset is an input)
    return dict(weight_ae=section(cfg, "weight_ae"), readout_seed=readout_seed(cfg))


# Fields of a route's own config section that only 80 reads (how it reads what 70 trained, changing none
# of it): they key 80, not 70.
READ_BY_80 = {"decoder": ("start",), "view_field": ("coarse", "band", "fill_voids", "close_gaps")}


def mapper_config(cfg) -> dict:
    """seed: the sketch's; readout_seed: the mapper's init (its train subset is an input). A route with a
    config section of its own name (route decoder: cfg.decoder) trains what that section describes, so the
    section keys 70 under that route alone; the other routes' keys do not change when it does. Its fields
    in READ_BY_80 (decoder.start) key 80 instead (refine_config)."""
    mapper = section(cfg, "mapper")
    route = mapper["route"]
    own = {route: _without(section(cfg, route), *READ_BY_80.get(route, ()))} if route in cfg else {}
    return dict(mapper=mapper, seed=cfg.seed, readout_seed=readout_seed(cfg), **own)


def refine_config(cfg) -> dict:
    """80's: the refinement, the readout seed, and the route's fields in READ_BY_80 (under route decoder,
    where its latent starts: decoder.start)."""
    out = dict(refine=section(cfg, "shape_siren")["refine"], readout_seed=readout_seed(cfg))
    route = section(cfg, "mapper")["route"]
    for knob in READ_BY_80.get(route, ()):
        out[f"{route}_{knob}"] = section(cfg, route)[knob]
    return out


def reconstruct_config(cfg) -> dict:
    return dict(reconstruct=_without(section(cfg, "reconstruct"), "picture_objects"), seed=cfg.seed)


def summary_config(cfg, artifact: str) -> dict:
    """90's shared artifacts: the summary and its picture."""
    return dict(reconstruct=section(cfg, "reconstruct"), seed=cfg.seed)


# ---------------------------------------------------------------- the table, in running order
STAGES: dict[str, StageSpec] = {
    s.folder: s
    for s in (
        StageSpec("01_download", "01_download", "download", download_config, knobs=("data",)),
        StageSpec(
            "02_watertight",
            "02_watertight",
            "watertight",
            watertight_config,
            upstream=("01_download",),
            knobs=("data",),
        ),
        StageSpec(
            "03_render_views",
            "03_render_views",
            "render_views",
            render_config,
            upstream=("02_watertight",),
            knobs=("render",),
        ),
        StageSpec(
            "40_image_sirens",
            "40_train_image_sirens",
            "image_sirens",
            image_siren_config,
            upstream=("03_render_views",),
            device_dependent=True,
            knobs=("image_siren",),
        ),
        StageSpec(
            "50_hypernets",
            "50_train_hypernets",
            "hypernets",
            hypernet_config,
            upstream=("40_image_sirens", "03_render_views"),
            device_dependent=True,
            makes=("hypernet",),
            knobs=("hypernet",),
        ),
        StageSpec(
            "60_weight_ae",
            "60_train_weight_ae",
            "weight_ae",
            target_config,
            upstream=("02_watertight",),
            device_dependent=True,
            shared_config=weight_ae_shared_config,
            makes=("weight_ae",),
            knobs=("shape_siren", "weight_ae"),
        ),
        StageSpec(
            "70_mapper",
            "70_train_mapper",
            "mapper",
            mapper_config,
            upstream=("50_hypernets", "60_weight_ae", "02_watertight"),
            routed=True,
            device_dependent=True,
            makes=("mapper",),
            knobs=("mapper", "decoder"),
        ),
        StageSpec(
            "80_shape_sirens",
            "80_train_shape_sirens",
            "shape_sirens",
            refine_config,
            # 60 too: the latent route decodes with 60's autoencoder, and every route starts from its anchor
            upstream=("70_mapper", "60_weight_ae", "03_render_views"),
            routed=True,
            device_dependent=True,
            evaluated_only=True,
            knobs=(
                "shape_siren.refine",
                "decoder.start",
                "view_field.coarse",
                "view_field.band",
                "view_field.fill_voids",
                "eval_splits",
            ),
        ),
        StageSpec(
            "90_reconstruct",
            "90_reconstruct",
            "reconstruct",
            reconstruct_config,
            upstream=("80_shape_sirens", "60_weight_ae", "02_watertight"),
            routed=True,
            device_dependent=True,
            evaluated_only=True,
            shared_config=summary_config,
            knobs=("reconstruct", "eval_splits"),
        ),
    )
}


def made_by(config_section: str) -> StageSpec:
    """The stage whose checkpoints hold the networks of a config section (hypernet, weight_ae, mapper)."""
    (spec,) = [s for s in STAGES.values() if config_section in s.makes]
    return spec
