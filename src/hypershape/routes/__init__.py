"""The mapper routes, each a way to turn an object's hypernetwork into a shape. Every module of this package
but base.py is one route, named by its file (routes/latent.py is mapper.route=latent): it defines
`ROUTE`, an instance of base.MapperRoute. config.py lists the modules without importing them, so an unknown
route fails when the config is composed. Adding a route = one module here + configs/mapper/<name>.yaml."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..config import Route

if TYPE_CHECKING:
    from .base import MapperRoute


def get(name: Route | str) -> MapperRoute:
    """The route called `name` (a Route member or its value)."""
    name = getattr(name, "value", name)
    if name not in Route.__members__:
        raise ValueError(f"unknown mapper route {name!r}; the routes are {', '.join(Route.__members__)}")
    return importlib.import_module(f"{__name__}.{name}").ROUTE
