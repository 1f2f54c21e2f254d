"""01_download: the object list and the raw meshes, from the procedural catalogue, a folder, or Objaverse."""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from ..config import Source
from ..runtime import Stage, save_json, save_mesh, seed_of
from ..sources import local, objaverse_source, procedural


def _candidates(cfg) -> list[dict]:
    """(id, source, ref, licence, genus, a loader) for the first num_objects of the configured source."""
    d = cfg.data
    if d.source == Source.procedural:
        solids = procedural.catalogue()[: d.num_objects]
        return [
            dict(
                id=s.name,
                source="procedural",
                ref=s.family,
                license="generated",
                genus=s.genus,
                params=dict(s.params),
                load=lambda s=s: procedural.build(s),
            )
            for s in solids
        ]
    if d.source == Source.local:
        if not d.local_dir:
            raise ValueError("data.source=local needs data.local_dir=/path/to/meshes")
        found = local.list_meshes(d.local_dir)[: d.num_objects]
        if not found:
            raise ValueError(f"no {'/'.join(local.MESH_SUFFIXES)} meshes under {d.local_dir}")
        # keyed by content: a mesh edited in place is redone
        return [
            dict(
                id=i,
                source="local",
                ref=str(p),
                sha1=local.file_sha1(p),
                license=None,
                genus=None,
                load=lambda p=p: local.load_mesh(p),
            )
            for i, p in found
        ]
    uids = objaverse_source.select_uids(
        list(d.objaverse_uids), list(d.objaverse_lvis), d.num_objects, d.objaverse_cache, d.download_timeout_s
    )
    out = []
    for f in objaverse_source.fetch(uids, d.objaverse_cache, d.download_timeout_s):

        def load(f=f):
            if f.error:
                raise RuntimeError(f"download failed: {f.error}")
            return local.load_mesh(f.path)

        out.append(dict(id=f.uid, source="objaverse", ref=f.uid, license=f.license, genus=None, load=load))
    return out


def split_of(obj: dict, cfg) -> str:
    """An object's split from the seed and its own id alone (DESIGN.md, Splits): held out iff its seeded hash,
    uniform in [0, 1), falls below data.test_fraction, so one object failing never moves another. With
    data.test_genus, exactly the objects of those genera are held out."""
    if cfg.data.test_genus is not None:
        return "test" if obj["genus"] in set(cfg.data.test_genus) else "train"
    return "test" if seed_of(cfg.seed, "split", obj["id"]) / 2**32 < cfg.data.test_fraction else "train"


def assign_split(objects: list[dict], cfg, log) -> None:
    """Set the split of every fetched object; warn when a split is empty (few objects, or an unlucky seed)."""
    ok = [o for o in objects if o["status"] == "done"]
    for o in ok:
        o["split"] = split_of(o, cfg)
    for split in ("train", "test"):
        if ok and not any(o["split"] == split for o in ok):
            log.warning("no %s object among the %d fetched: change data.test_fraction or the seed", split, len(ok))


def run(cfg) -> dict:
    stage = Stage(cfg, "01_download")
    objects = []
    for c in tqdm(_candidates(cfg), desc="01_download", unit="obj", dynamic_ncols=True):
        load = c.pop("load")
        key, parts = stage.key(c)  # a changed catalogue entry, file (content) or uid is a changed object
        path = stage.paths.raw_mesh(c["id"])
        entry = dict(c, split=None, status="done", reason=None, raw=str(path.relative_to(stage.paths.root)))
        if not stage.manifest.is_current(c["id"], key):
            try:
                mesh = load()
                if len(mesh.faces) == 0 or not np.isfinite(mesh.vertices).all():
                    raise ValueError("mesh has no faces or non-finite vertices")
                save_mesh(path, mesh)
                stage.manifest.done(c["id"], key, [path], parts, faces=int(len(mesh.faces)))
                stage.counts["done"] += 1
            except Exception as e:  # a broken mesh or failed download: record it, go on
                stage.fail(c["id"], key, f"{type(e).__name__}: {e}", [path], parts)  # removes an older raw mesh
                entry.update(status="failed", reason=f"{type(e).__name__}: {e}")
        else:
            stage.counts["skipped"] += 1
        objects.append(entry)
    assign_split(objects, cfg, stage.log)
    save_json(stage.paths.objects, objects)
    n = {s: sum(o["split"] == s for o in objects) for s in ("train", "test")}
    stage.log.info(
        "%d objects listed: %d train, %d test, %d failed",
        len(objects),
        n["train"],
        n["test"],
        sum(o["status"] != "done" for o in objects),
    )
    return stage.finish()
