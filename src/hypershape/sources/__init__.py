"""Where objects come from. Every module of this package whose name does not start with "_" is one source,
chosen by `data.source` by its module name (config.py lists the modules without importing them, so an
unknown name fails when the config is composed; a helper module's name starts with "_"). A source defines

    candidates(data) -> list[Candidate]   the first data.num_objects objects, each with a loader
    HAS_FAMILIES: bool                    whether its candidates carry a family (the in_family and ood splits)

and raises errors.UserError for what the user must fix (a folder that does not exist, a network that cannot
be reached). Adding a source = one module here + configs/data/<name>.yaml."""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any, Callable

from ..objects import LISTED_WHEN_SET, CatalogueEntry


@dataclass(frozen=True)
class Candidate(CatalogueEntry):
    """One object a source offers: what 01 lists in objects.json (and keys the object on) and how to load
    its mesh."""

    load: Callable[[], Any] = field(kw_only=True, compare=False, repr=False)
    """Returns the raw trimesh.Trimesh; raises for a mesh that cannot be had (01 records it as failed)."""

    def entry(self) -> dict:
        """The object's entry of objects.json (without the loader): id, source, ref, license and genus always,
        the rest where set."""
        return {k: v for k, v in asdict(self).items() if k != "load" and (k not in LISTED_WHEN_SET or v is not None)}


def source_module(name: str) -> ModuleType:
    """The module of the source called `name` (data.source)."""
    return importlib.import_module(f"{__name__}.{name}")
