"""Meshes from a local folder: listing them under stable ids and loading each into one triangle mesh."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from pathlib import Path

import numpy as np
import trimesh

from ..errors import UserError
from . import Candidate

log = logging.getLogger(__name__)
MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf")
# Files a mesh file refers to (OBJ materials, glTF buffers, textures), and notes: not objects themselves.
COMPANION_SUFFIXES = (".mtl", ".bin", ".png", ".jpg", ".jpeg", ".txt", ".md")


class MeshLoadError(ValueError):
    """A mesh file that cannot be used: an unsupported type, unreadable, without triangles, with non-finite
    vertices, a face index out of range, or degenerate (no triangle with area)."""


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "mesh"


def list_meshes(folder) -> list[tuple[str, Path]]:
    """Sorted (id, path) of every file under `folder`, recursively, but hidden ones and companions
    (COMPANION_SUFFIXES); ids are filesystem-safe and unique. A file of a type we cannot load is listed
    too, so that 01 records it as failed ("unsupported file type") rather than dropping it unseen.

    The id is the relative path without its suffix, folders joined by "__"; a clash (chair.obj next to
    chair.ply) adds the suffix, and any clash left after that a counter.
    """
    folder = Path(folder)
    paths = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in COMPANION_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    stems = ["__".join(_safe(part) for part in p.relative_to(folder).with_suffix("").parts) for p in paths]
    counts = Counter(stems)
    out, seen = [], set()
    for stem, path in zip(stems, paths):
        uid = stem if counts[stem] == 1 else f"{stem}_{path.suffix.lower()[1:]}"
        base, k = uid, 2
        while uid in seen:
            uid, k = f"{base}_{k}", k + 1
        seen.add(uid)
        out.append((uid, path))
    return out


def file_sha1(path, chunk: int = 1 << 20) -> str:
    """SHA-1 of a file's bytes, read in chunks: a mesh's identity for its key (a file edited in place is a
    changed object; a file only touched or copied is not)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_mesh(path) -> trimesh.Trimesh:
    """Load a mesh file as one Trimesh, a scene flattened with its node transforms; MeshLoadError, naming
    the problem, if it is unusable."""
    path = Path(path)
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise MeshLoadError(
            f"unsupported file type {path.suffix or '(none)'} of {path} (supported: {' '.join(MESH_SUFFIXES)})"
        )
    try:
        # unprocessed first: processing would silently drop faces on NaN vertices, hiding a broken file
        mesh = trimesh.load_scene(path, process=False).to_mesh()
    except IndexError as exc:  # the OBJ reader indexes its vertex list with the face indices
        raise MeshLoadError(f"mesh file {path} has a face index out of range: {exc}") from exc
    except Exception as exc:  # trimesh raises many types for bad files; callers only need "unusable"
        raise MeshLoadError(f"cannot read mesh file {path}: {type(exc).__name__}: {exc}") from exc
    if len(mesh.faces) == 0:
        raise MeshLoadError(f"mesh file {path} contains no triangles ({len(mesh.vertices)} vertices)")
    if not np.isfinite(mesh.vertices).all():
        raise MeshLoadError(f"mesh file {path} has NaN or infinite vertex coordinates")
    if mesh.faces.min() < 0 or mesh.faces.max() >= len(mesh.vertices):  # the PLY reader lets these through
        raise MeshLoadError(
            f"mesh file {path} has a face index out of range (faces use "
            f"{mesh.faces.min()}..{mesh.faces.max()}, it has {len(mesh.vertices)} vertices)"
        )
    extent = float(np.ptp(mesh.vertices, axis=0).max())
    mesh.process()  # merge duplicate vertices (STL stores every triangle separately)
    if not (mesh.area_faces > 0).any():  # collinear corners, or a speck merged into one point
        raise MeshLoadError(
            f"mesh file {path} is degenerate: none of its {len(mesh.faces)} triangles has area "
            f"(extent {extent:g}; vertices closer than {trimesh.tol.merge:g} are merged)"
        )
    return mesh


# --- as a source (data.source=local) ----------------------------------------------------------------------------

HAS_FAMILIES = False


def _folder(local_dir) -> Path:
    """data.local_dir as a folder that exists and holds files; UserError naming the problem otherwise."""
    if not local_dir:
        raise UserError("data.source=local needs a folder of meshes: pass data.local_dir=/path/to/meshes")
    folder = Path(local_dir).expanduser()
    if not folder.exists():
        raise UserError(f"data.local_dir={local_dir} does not exist: pass a folder of meshes")
    if not folder.is_dir():
        raise UserError(f"data.local_dir={local_dir} is a file, not a folder: pass the folder that holds the meshes")
    return folder


def candidates(data) -> list[Candidate]:
    """The first data.num_objects meshes under data.local_dir (sorted by path; a warning names both counts
    when there are more), keyed by content. UserError when the folder is missing, has no mesh files, or none
    of the taken files loads."""
    folder = _folder(data.local_dir)
    found = list_meshes(folder)
    if not found:
        raise UserError(f"data.local_dir={data.local_dir} has no mesh files: put {' '.join(MESH_SUFFIXES)} files in it")
    if len(found) > data.num_objects:
        log.warning(
            "%d mesh files under %s, data.num_objects=%d: taking the first %d by path "
            "(pass data.num_objects=%d to take them all)",
            len(found),
            data.local_dir,
            data.num_objects,
            data.num_objects,
            len(found),
        )
    found = found[: data.num_objects]
    _one_loads(found, data.local_dir)
    return [
        Candidate(id=i, source="local", ref=str(p), sha1=file_sha1(p), load=lambda p=p: load_mesh(p)) for i, p in found
    ]


def _one_loads(found: list[tuple[str, Path]], local_dir) -> None:
    """UserError unless at least one of the files loads (stops at the first that does)."""
    reasons = []
    for _, path in found:
        try:
            load_mesh(path)
            return
        except MeshLoadError as exc:
            reasons.append(str(exc))
    raise UserError(f"no mesh under data.local_dir={local_dir} loads ({len(found)} tried; first: {reasons[0]})")
