"""01_download: the object list and the raw meshes, from the source data.source names (sources/)."""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm import tqdm

from ..config import Split
from ..objects import RunObject, Subset, save_objects
from ..provenance import code_version
from ..runtime import Stage, save_mesh, seed_of
from ..sources import source_module


def held_out_every(test_fraction: float) -> int:
    """K of the in_family split: one object in every K of a family is held out."""
    k = round(1 / test_fraction)
    if k < 3:
        raise ValueError(
            f"data.split=in_family holds out one object in every round(1/test_fraction) = {k} of a family and "
            "needs at least 3, so that two train: use data.test_fraction <= 1/3, or data.split=ood|random"
        )
    return k


def _by_family(split: Split, obj: RunObject) -> bool:
    """Whether `split` decides this object by its family (sources without families fall back to random)."""
    return split in (Split.in_family, Split.ood) and obj.family is not None


def split_of(obj: RunObject, cfg) -> Subset:
    """An object's split from the split seed (data.catalogue_seed, not the training seed) and the object's
    own id, index and family alone (docs/design.md, Splits), so one object failing never moves another.
    With data.test_genus, exactly the objects of those genera are held out, whatever data.split says; with
    readout_from (a readout trained on another run's objects), every object is."""
    d = cfg.data
    if cfg.readout_from:
        return Subset.test
    seed, split = d.catalogue_seed, Split(d.split)
    if d.test_genus is not None:
        return Subset.test if obj.genus in set(d.test_genus) else Subset.train
    if d.test_fraction <= 0:
        return Subset.train
    if not _by_family(split, obj):  # random, or a source without families
        return Subset.test if seed_of(seed, "split", obj.id) / 2**32 < d.test_fraction else Subset.train
    if split == Split.ood:  # whole families
        return Subset.test if seed_of(seed, "split", obj.family) / 2**32 < d.test_fraction else Subset.train
    # in_family: objects 0 and 1 of every block of K train, one of the others (the family's offset) tests
    k = held_out_every(d.test_fraction)
    offset = 2 + seed_of(seed, "split", obj.family) % (k - 2)
    return Subset.test if obj.index % k == offset else Subset.train


def assign_split(objects: list[RunObject], cfg, log) -> list[RunObject]:
    """The objects with the split of every fetched one set; log each split's count and families; warn when a
    split is empty (few objects, or an unlucky seed) or a family split falls back to random."""
    split = Split(cfg.data.split)
    fetched = [o for o in objects if o.fetched]
    if cfg.data.test_genus is None and any(split != Split.random and not _by_family(split, o) for o in fetched):
        log.warning("data.split=%s needs families, which this source lacks: split at random", split.value)
    objects = [dataclasses.replace(o, split=split_of(o, cfg)) if o.fetched else o for o in objects]
    ok = [o for o in objects if o.fetched]
    for name in Subset:
        if ok and not any(o.split == name for o in ok) and not (cfg.readout_from and name == Subset.train):
            log.warning(
                "no %s object among the %d fetched: change data.test_fraction or data.catalogue_seed", name, len(ok)
            )
        families = sorted({o.family for o in ok if o.split == name and o.family is not None})
        n = sum(o.split == name for o in ok)
        log.info("%s: %d objects%s", name, n, f", families {', '.join(families)}" if families else "")
    return objects


def run(cfg) -> dict:
    stage = Stage(cfg, "01_download")
    d = cfg.data
    source = source_module(d.source.value)
    if source.HAS_FAMILIES and Split(d.split) == Split.in_family and d.test_genus is None:
        if d.test_fraction > 0:
            held_out_every(d.test_fraction)  # fail before any download, not after
    objects = []
    source_code = code_version(source.__name__)  # imported by name, so not in the stage's own code version
    for candidate in tqdm(source.candidates(d), desc="01_download", unit="obj", dynamic_ncols=True):
        c, load = candidate.entry(), candidate.load
        # a changed catalogue entry, file (content), uid or source code is a changed object
        key, parts = stage.key(c, source_code=source_code)
        path = stage.paths.raw_mesh(candidate.id)
        entry = RunObject(**c, raw=str(path.relative_to(stage.paths.root)))
        if not stage.manifest.is_current(candidate.id, key):
            try:
                mesh = load()
                if len(mesh.faces) == 0 or not np.isfinite(mesh.vertices).all():
                    raise ValueError("mesh has no faces or non-finite vertices")
                save_mesh(path, mesh)
                stage.manifest.done(candidate.id, key, [path], parts, faces=int(len(mesh.faces)))
                stage.counts["done"] += 1
            except Exception as e:  # a broken mesh or failed download: record it, go on
                stage.fail(candidate.id, key, f"{type(e).__name__}: {e}", [path], parts)  # removes an older raw mesh
                entry = dataclasses.replace(entry, status="failed", reason=f"{type(e).__name__}: {e}")
        else:
            stage.counts["skipped"] += 1
        objects.append(entry)
    objects = assign_split(objects, cfg, stage.log)
    save_objects(stage.paths.objects, objects)
    n = {s: sum(o.split == s for o in objects) for s in Subset}
    stage.log.info(
        "%d objects listed: %d train, %d test, %d failed",
        len(objects),
        n[Subset.train],
        n[Subset.test],
        sum(not o.fetched for o in objects),
    )
    return stage.finish()
