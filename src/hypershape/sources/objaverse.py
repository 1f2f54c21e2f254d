"""Objects from Objaverse 1.0 through the `objaverse` package, fetched one at a time under a time limit.

The package keeps its files under BASE_PATH/hf-objaverse-v1 (object-paths.json.gz, lvis-annotations.json.gz,
metadata/<shard>.json.gz, glbs/<shard>/<uid>.glb) and only goes to the network for files missing there, so a
pre-filled cache directory works offline.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import objaverse

from ..errors import UserError
from . import Candidate
from .local import load_mesh

VERSIONED_SUBDIR = "hf-objaverse-v1"  # the package's own layout: ~/.objaverse/hf-objaverse-v1


@dataclass
class Fetched:
    """Outcome for one uid: the local .glb path and licence, or the reason it failed (`network`: the
    failure was the network's, not the object's)."""

    uid: str
    path: Path | None
    license: str | None
    error: str | None
    network: bool = False


def use_cache_dir(cache_dir) -> None:
    """Point the objaverse package at `cache_dir` (its files then live under cache_dir/hf-objaverse-v1)."""
    objaverse.BASE_PATH = str(cache_dir)
    objaverse._VERSIONED_PATH = os.path.join(str(cache_dir), VERSIONED_SUBDIR)


def _call(fn, timeout_s: float):
    """Run fn() in a daemon thread and wait at most timeout_s; raises TimeoutError or fn's exception.

    A daemon thread rather than an executor: a download stuck past its limit is abandoned and must not keep
    the interpreter from exiting.
    """
    future = Future()

    def target():
        try:
            future.set_result(fn())
        except BaseException as exc:  # handed to the caller, who decides what is fatal
            future.set_exception(exc)

    threading.Thread(target=target, daemon=True).start()
    return future.result(timeout=timeout_s)


def select_uids(
    uids: list[str], lvis_categories: list[str], n: int, cache_dir=None, timeout_s: float = 600.0
) -> list[str]:
    """Up to n uids: the explicit ones first, then members of the LVIS categories, taken in turn per category.

    Each category's uids are sorted, so the choice is deterministic. Raises ValueError for an unknown
    category and UserError when the LVIS list is neither cached nor downloadable.
    """
    chosen = list(dict.fromkeys(uids))[:n]
    if len(chosen) >= n or not lvis_categories:
        return chosen
    if cache_dir is not None:
        use_cache_dir(cache_dir)
    try:
        lvis = _call(objaverse.load_lvis_annotations, timeout_s)
    except Exception as exc:
        raise UserError(
            f"cannot reach Objaverse for its LVIS annotations ({type(exc).__name__}: {exc}; none cached under "
            f"{objaverse._VERSIONED_PATH}): check the network, or set data.objaverse_cache to a filled cache"
        ) from exc
    unknown = [c for c in lvis_categories if c not in lvis]
    if unknown:
        raise ValueError(f"unknown LVIS categories: {unknown}")
    taken = set(chosen)
    for row in zip_longest(*(sorted(lvis[c]) for c in lvis_categories)):
        for uid in row:
            if uid is not None and uid not in taken and len(chosen) < n:
                chosen.append(uid)
                taken.add(uid)
    return chosen


def _license(uid: str, timeout_s: float) -> str | None:
    """The licence from the object's metadata, or None when the metadata cannot be had."""
    try:
        annotations = _call(lambda: objaverse.load_annotations([uid]), timeout_s)
        return annotations.get(uid, {}).get("license")
    except Exception:  # a missing licence must never cost us the object itself
        return None


def _fetch_one(uid: str, timeout_s: float) -> Fetched:
    try:
        paths = _call(lambda: objaverse.load_objects([uid], download_processes=1), timeout_s)
    except TimeoutError:
        return Fetched(uid, None, None, f"download timed out after {timeout_s:g} s", network=True)
    except Exception as exc:  # URLError, ConnectionError and socket errors are OSErrors: the network's
        return Fetched(uid, None, None, f"download failed: {type(exc).__name__}: {exc}", isinstance(exc, OSError))
    if uid not in paths:
        return Fetched(uid, None, None, "uid not found in Objaverse object-paths.json.gz")
    return Fetched(uid, Path(paths[uid]), _license(uid, timeout_s), None)


def fetch(uids: list[str], cache_dir: str | None = None, timeout_s: float = 120.0) -> list[Fetched]:
    """Download each uid's .glb (or find it in the cache), each under its own time limit; never raises.

    A failure or timeout for one object is recorded in its Fetched.error and the others go on.
    """
    if cache_dir is not None:
        use_cache_dir(cache_dir)
    return [_fetch_one(uid, timeout_s) for uid in uids]


# --- as a source (data.source=objaverse) -------------------------------------------------------------------------

HAS_FAMILIES = False


def candidates(data) -> list[Candidate]:
    """data.objaverse_uids, then LVIS members of data.objaverse_lvis, up to data.num_objects, each fetched
    under data.download_timeout_s. An object that fails is a failed candidate (01 records why); UserError when
    every one failed on the network (Objaverse cannot be reached)."""
    uids = select_uids(
        list(data.objaverse_uids),
        list(data.objaverse_lvis),
        data.num_objects,
        data.objaverse_cache,
        data.download_timeout_s,
    )
    fetched = fetch(uids, data.objaverse_cache, data.download_timeout_s)
    if fetched and all(f.network for f in fetched):
        raise UserError(
            f"cannot reach Objaverse: all {len(fetched)} downloads failed (first: {fetched[0].error}); check the "
            "network, or set data.objaverse_cache to a cache that holds the objects"
        )
    return [Candidate(id=f.uid, source="objaverse", ref=f.uid, license=f.license, load=_loader(f)) for f in fetched]


def _loader(f: Fetched):
    def load():
        if f.error:
            raise RuntimeError(f"download failed: {f.error}")
        return load_mesh(f.path)

    return load
