"""Loading what stages hand to each other, in the form training wants it."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from ..geometry.sdf import enclosing_radius
from ..nets.siren import SirenSpec
from ..objects import RunObject, Subset
from ..render import rgb_on_black
from ..runtime import Stage, fingerprint, seed_of


def load_views(path) -> dict:
    """A 03 npz as tensors: rgb on black [24, H*W, 3], mask and depth [24, H, W], and the cameras."""
    v = np.load(path)
    rgba = v["rgba"]
    rgb = torch.from_numpy(rgb_on_black(rgba))
    return dict(
        rgb=rgb.reshape(rgb.shape[0], -1, 3),
        mask=torch.from_numpy(rgba[..., 3]).float() / 255.0,
        depth=torch.from_numpy(v["depth"]).float(),
        K=v["K"],
        cam_to_world=v["cam_to_world"],
        directions=torch.from_numpy(v["directions"]).float(),
        resolution=rgba.shape[1],
    )


def image_spec(cfg) -> SirenSpec:
    return SirenSpec.of(cfg.image_siren, 2, 3)


def shape_spec(cfg) -> SirenSpec:
    return SirenSpec.of(cfg.shape_siren, 3, 1)


def load_samples(paths, obj_id: str) -> tuple[torch.Tensor, torch.Tensor]:
    s = np.load(paths.sdf_samples(obj_id))
    return torch.from_numpy(s["points"]).float(), torch.from_numpy(s["sdf"]).float()


def solid_radius(paths, obj_id: str) -> float:
    """Radius of the smallest ball about the origin that holds the object's 02 solid."""
    return enclosing_radius(trimesh.load(paths.solid(obj_id), force="mesh", process=False))


def split_key(objects: list[RunObject]) -> str:
    """Which objects are in which split: anything trained on the train split depends on it."""
    return fingerprint(sorted((o.id, o.split) for o in objects))


def readout_train(cfg, objects: list[RunObject]) -> list[str]:
    """The training objects the readout (60's autoencoder, 70's mapper, the retrieval baseline) learns from:
    the first data.train_limit of the train split (all when it is 0) in an order drawn from `seed` and each
    id alone, so a smaller subset is inside every larger one and no failure elsewhere moves it.
    Ids in that order; a listed object whose upstream failed is the caller's to leave out."""
    limit = cfg.data.train_limit
    if limit < 0:
        raise ValueError(f"data.train_limit must be >= 0 (0 = every training object), got {limit}")
    train = sorted(
        (o.id for o in objects if o.split == Subset.train), key=lambda i: (seed_of(cfg.seed, "train_order", i), i)
    )
    return train[:limit] if limit else train


def evaluated(cfg, objects: list[RunObject]) -> list[RunObject]:
    """The objects of the splits in cfg.eval_splits: those 80 makes and 90 scores."""
    unknown = set(cfg.eval_splits) - {s.value for s in Subset}
    if unknown or not cfg.eval_splits:
        raise ValueError(f"eval_splits must be a non-empty subset of [train, test], got {list(cfg.eval_splits)}")
    return [o for o in objects if o.split in cfg.eval_splits]


def train_upstream(stage: Stage, objects: list[RunObject]) -> tuple[dict[str, dict], dict[str, str]]:
    """The training objects every upstream stage made ({id: upstream keys}), and the others ({id: reason}):
    a shared artifact learns from the first only, never from a missing or stale file of the second."""
    train = [o for o in objects if o.split == Subset.train]
    for up in stage.upstream:  # sharded: other jobs may still be making their share of the upstream stage
        stage.wait_for(f"{up}'s records of every training object", up, train)
    used, left_out = {}, {}
    for o in train:
        failure = stage.upstream_failure(o.id)
        if failure:
            left_out[o.id] = failure
        else:
            used[o.id] = stage.upstream_keys(o.id)
    return used, left_out


def shared_from_train(stage: Stage, artifact: str, path, make, used: dict, left_out: dict[str, str], *inputs) -> str:
    """stage.shared for an artifact learnt from the training objects in `used` ({id: what it was made from}):
    its key covers `inputs` plus exactly those objects. The training objects left out ({id: reason}) are
    logged and recorded as `left_out` in its manifest record. Returns the key. A run with readout_from
    learns nothing: it takes the artifact from that run (stage.take_shared)."""
    if stage.readout:
        return stage.take_shared(artifact, path)["key"]
    for obj_id, reason in left_out.items():
        stage.log.warning("%s: training object %s left out (%s)", artifact, obj_id, reason)
    if not used:
        raise RuntimeError(f"{artifact}: no training object is usable, left out: {left_out}")
    entry = stage.shared(artifact, path, lambda: dict(make(), left_out=left_out), inputs=(*inputs, used))
    if entry.get("left_out") != left_out:  # same objects used, but others fail now (or fail differently)
        info = {k: v for k, v in entry.items() if k not in ("status", "key", "parts", "outputs")}
        stage.manifest.done(
            artifact, entry["key"], [path], entry["parts"], shared=True, **dict(info, left_out=left_out)
        )
    return entry["key"]
