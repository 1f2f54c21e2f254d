"""The objects of a run: what 01_download lists in objects.json, one typed record per object, and the subset
(train or test) each is in. Every stage reads the list through load_objects; save_objects writes plain JSON
values only (a Subset as its bare string), so the file and every key made from it do not depend on the
record type."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .records import load_json, save_json


class Subset(str, Enum):
    """The subset an object is in: the readout learns from train, test is held out. A str, so JSON files and
    keys hold the bare value as they always did (config.Split is the scheme that assigns these)."""

    train = "train"
    test = "test"

    def __str__(self) -> str:  # the value in log lines and tables, on every Python version
        return self.value


FETCHED = "done"
"""The status of an object whose raw mesh 01 has (the other is "failed", with a reason)."""


@dataclass(frozen=True)
class CatalogueEntry:
    """What a source lists for an object, and 01 keys the object on (sources.Candidate adds how to load its
    mesh). Optional fields are listed only when set."""

    id: str
    """Stable, filesystem-safe id."""
    source: str
    """The source's name."""
    ref: str
    """Where it came from: a family, a file, a uid."""
    license: str | None = None
    genus: int | None = None
    """Known genus, when the source knows it by construction."""
    family: str | None = None
    index: int | None = None
    """Index within the family."""
    params: dict | None = None
    """The parameters it was built from (JSON-able)."""
    sha1: str | None = None
    """Content hash of a file: a file edited in place is a changed object."""


LISTED_WHEN_SET = ("family", "index", "params", "sha1")
"""The catalogue fields objects.json lists only when set (the others always, null or not)."""


@dataclass(frozen=True)
class RunObject(CatalogueEntry):
    """One entry of objects.json: the source's catalogue entry and what 01 adds."""

    split: Subset | None = None
    """None while the object is not fetched."""
    status: str = FETCHED
    reason: str | None = None
    """Why it was not fetched."""
    raw: str | None = None
    """The raw mesh, relative to the run's root."""

    @property
    def fetched(self) -> bool:
        return self.status == FETCHED

    @classmethod
    def from_json(cls, entry: dict) -> RunObject:
        split = entry.get("split")
        return cls(**dict(entry, split=None if split is None else Subset(split)))

    def to_json(self) -> dict:
        """The entry as objects.json holds it: the catalogue's optional fields only where set, in field order."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is not None or f.name not in LISTED_WHEN_SET:
                out[f.name] = v.value if isinstance(v, Subset) else v
        return out


def load_objects(path: Path, fetched_only: bool = False) -> list[RunObject]:
    """The objects listed in objects.json at `path`, in its order (only those 01 fetched, if asked)."""
    objects = [RunObject.from_json(e) for e in load_json(path)]
    return [o for o in objects if o.fetched] if fetched_only else objects


def save_objects(path: Path, objects: list[RunObject]) -> Path:
    return save_json(path, [o.to_json() for o in objects])
