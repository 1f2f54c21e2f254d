"""Offline catalogue of procedural solids whose genus is known by construction.

Every solid is a single closed manifold built from trimesh primitives and manifold3d booleans, so the
pipeline can run (and check its topology metrics against a known answer) without any download.

Each family has a sampler that draws continuous parameters (and a few counts: holes, rungs, spokes) from a
generator seeded by (catalogue seed, family, index within the family) alone, so object k of a family is the
same however many objects are drawn. Parameter ranges keep every bar, wall and hole at least ~3 voxels wide
at 02's default solid resolution (128 over the largest extent, plus padding), so the genus survives 02.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import trimesh
from trimesh import creation
from trimesh.remesh import subdivide_to_size
from trimesh.transformations import rotation_matrix

from ..records import fingerprint
from . import Candidate

SECTIONS = 48  # segments around a circle: smooth enough for SDF fitting, still a few thousand faces
OVERLAP = 0.02  # parts reach this far into each other, so unions never rely on faces merely touching
# Longest edge of a built mesh, as a share of its largest extent: 02's fast winding numbers are several times
# slower near long facets (cylinder caps, cut faces), so those are split (same surface, a few thousand faces).
MAX_EDGE = 0.1


@dataclass(frozen=True)
class Solid:
    """One catalogue entry: a stable name, its family, its index within the family, the genus it has by
    construction, its parameters (JSON-able: numbers, strings, lists)."""

    name: str
    family: str
    genus: int
    params: dict = field(default_factory=dict, hash=False)
    index: int = 0


# --- primitives and booleans ---------------------------------------------------------------------------


def _placed(mesh: trimesh.Trimesh, center=(0.0, 0.0, 0.0), axis: str = "z") -> trimesh.Trimesh:
    """Turn a z-aligned primitive onto `axis`, then move it to `center`."""
    if axis == "x":
        mesh.apply_transform(rotation_matrix(np.pi / 2, [0, 1, 0]))
    elif axis == "y":
        mesh.apply_transform(rotation_matrix(-np.pi / 2, [1, 0, 0]))
    mesh.apply_translation(center)
    return mesh


def _box(size, center=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    return _placed(creation.box(extents=size), center)


def _span_box(lo, hi) -> trimesh.Trimesh:
    """Axis-aligned box between two corners."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return _box(hi - lo, (lo + hi) / 2)


def _cylinder(radius, height, center=(0.0, 0.0, 0.0), axis="z") -> trimesh.Trimesh:
    return _placed(creation.cylinder(radius=radius, height=height, sections=SECTIONS), center, axis)


def _torus(major, minor, center=(0.0, 0.0, 0.0), axis="z") -> trimesh.Trimesh:
    mesh = creation.torus(major, minor, major_sections=SECTIONS, minor_sections=SECTIONS // 2)
    return _placed(mesh, center, axis)


def _sphere(radius, center=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    return _placed(creation.icosphere(subdivisions=3, radius=radius), center)


def _hull(points) -> trimesh.Trimesh:
    return trimesh.convex.convex_hull(np.asarray(points, float))


def _union(*parts) -> trimesh.Trimesh:
    return trimesh.boolean.union(list(parts), engine="manifold")


def _minus(body, *cutters) -> trimesh.Trimesh:
    return trimesh.boolean.difference([body, *cutters], engine="manifold")


def _grid_cutters(width, depth, nx, ny, bar, thickness, round_holes=False):
    """Openings of an nx-by-ny grid inside a width-by-depth rectangle with `bar`-wide bars between them."""
    w = (width - (nx + 1) * bar) / nx
    d = (depth - (ny + 1) * bar) / ny
    cutters = []
    for i in range(nx):
        for j in range(ny):
            c = (-width / 2 + bar + w / 2 + i * (w + bar), -depth / 2 + bar + d / 2 + j * (d + bar), 0.0)
            if round_holes:
                cutters.append(_cylinder(min(w, d) / 2, thickness + 2 * OVERLAP, c))
            else:
                cutters.append(_box((w, d, thickness + 2 * OVERLAP), c))
    return cutters


# --- parameter draws ---------------------------------------------------------------------------------------


class Draw:
    """The draws a family's sampler makes, from one seeded generator. Reals are rounded to 4 decimals so
    params read well in objects.json; the tests swap in a class with the same methods that returns the ends
    of every range, to build the extreme instances of a family."""

    def __init__(self, gen: np.random.Generator):
        self.gen = gen

    def real(self, lo: float, hi: float) -> float:
        return round(float(self.gen.uniform(lo, hi)), 4)

    def count(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi], both ends included."""
        return int(self.gen.integers(lo, hi + 1))

    def pick(self, options: list):
        return options[int(self.gen.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return bool(self.gen.random() < p)


# --- families: a sampler (draw -> genus, params) and a builder taking those params -------------------------


def _sample_sphere(d):
    # cut: height (in radii) above which the sphere is sliced off
    return 0, {"cut": d.real(-0.5, 0.95)}


def _build_sphere(cut):
    return _minus(_sphere(0.5), _span_box((-1, -1, 0.5 * cut), (1, 1, 1)))


def _sample_ellipsoid(d):
    return 0, {"axes": [d.real(0.3, 1.0) for _ in range(3)]}


def _build_ellipsoid(axes):
    ball = _sphere(0.5)
    ball.apply_scale(axes)
    return ball


def _sample_box(d):
    return 0, {"size": [d.real(0.2, 1.0) for _ in range(3)]}


def _build_box(size):
    return _box(size)


def _sample_capsule(d):
    return 0, {"length": d.real(0.1, 0.9), "radius": d.real(0.08, 0.35)}


def _build_capsule(length, radius):
    return creation.capsule(height=length, radius=radius, count=[SECTIONS // 2, SECTIONS // 2])


def _sample_cone(d):
    # from a cone (top ring < 10% of the base: the apex) through frustums to a cylinder (top = base), flat
    # discs to tall rods
    bottom = d.real(0.1, 0.5)
    top = round(bottom * d.real(0.0, 1.0), 4)
    return 0, {"bottom": bottom, "top": top if top >= 0.1 * bottom else 0.0, "height": d.real(0.1, 1.0)}


def _build_cone(bottom, top, height):
    angles = np.linspace(0, 2 * np.pi, SECTIONS, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
    apex = ring * top + [0, 0, height] if top > 0 else [[0, 0, height]]
    return _hull(np.vstack([ring * bottom, apex]))


def _sample_torus(d):
    major = d.real(0.25, 0.45)
    # minor relative to major: the hole keeps at least 40% of the major radius; the scale stretches the
    # tube or the ring (at most 2x between axes), still genus 1
    minor = round(major * d.real(0.15, 0.6), 4)
    return 1, {"major": major, "minor": minor, "scale": [d.real(0.7, 1.4) for _ in range(3)]}


def _build_torus(major, minor, scale):
    ring = _torus(major, minor)
    ring.apply_scale(scale)
    return ring


def _cup_body(radius, height, wall):
    """Closed cylinder and the cavity to subtract from it (open at the top)."""
    body = _cylinder(radius, height, (0, 0, height / 2))
    cavity = _cylinder(radius - wall, height, (0, 0, wall + height / 2))
    return body, cavity


def _sample_cup(d):
    return 0, {"radius": d.real(0.2, 0.45), "height": d.real(0.3, 1.0), "wall": d.real(0.04, 0.07)}


def _build_cup(radius, height, wall):
    body, cavity = _cup_body(radius, height, wall)
    return _minus(body, cavity)


def _sample_mug(d):
    radius, height, wall, thick = d.real(0.25, 0.4), d.real(0.5, 1.0), d.real(0.04, 0.07), d.real(0.03, 0.06)
    # the handle's hole (radius handle - thick, half of it outside the body) stays >= 0.07 wide, and the
    # handle stays clear of the rim and the floor
    handle = d.real(thick + 0.07, 0.45 * height - thick)
    return 1, {"radius": radius, "height": height, "wall": wall, "handle": handle, "thick": thick}


def _build_mug(radius, height, wall, handle, thick):
    body, cavity = _cup_body(radius, height, wall)
    # the handle is a whole torus centred on the wall; the part inside the cup is absorbed or cut away
    grip = _torus(handle, thick, (radius, 0, height / 2), axis="y")
    return _minus(_union(body, grip), cavity)


def _sample_ring(d):
    outer = d.real(0.3, 0.5)
    inner = round(outer * d.real(0.3, 0.85), 4)
    height = d.real(0.08, 1.0)
    gem = d.real(0.06, 0.12) if d.chance(0.3) else 0.0
    return 1, {"inner": inner, "outer": outer, "height": height, "gem": gem}


def _build_ring(inner, outer, height, gem):
    band = _minus(_cylinder(outer, height), _cylinder(inner, height + 2 * OVERLAP))
    if gem <= 0:
        return band
    return _union(band, _sphere(gem, (outer + gem / 2, 0, 0)))


_HOLE_LAYOUTS = {  # hole centres on a square plate, in units of its side
    1: [(0, 0)],
    2: [(-0.25, -0.25), (0.25, 0.25)],
    3: [(-0.25, -0.25), (0.25, -0.25), (0, 0.25)],
    4: [(-0.25, -0.25), (0.25, -0.25), (-0.25, 0.25), (0.25, 0.25)],
}


def _sample_plate_holes(d):
    layout, holes = d.pick(["row", "grid", "slots"]), d.count(1, 4)
    if layout == "row":  # long thin plate, round holes in a line; hole radius relative to pitch and depth
        p = {
            "width": d.real(0.8, 1.0),
            "depth": d.real(0.3, 0.5),
            "thick": d.real(0.06, 0.15),
            "hole": d.real(0.2, 0.35),
        }
    elif layout == "grid":  # square plate, round holes; hole radius relative to the side
        side = d.real(0.7, 1.0)
        p = {"width": side, "depth": side, "thick": d.real(0.06, 0.15), "hole": d.real(0.06, 0.14)}
    else:  # thick block with square slots side by side, `bar` between them
        p = {"width": 1.0, "depth": d.real(0.3, 0.6), "thick": d.real(0.15, 0.35), "bar": d.real(0.06, 0.12)}
    return holes, {"layout": layout, "holes": holes, **p}


def _build_plate_holes(layout, holes, width, depth, thick, hole=0.0, bar=0.0):
    plate = _box((width, depth, thick))
    if layout == "row":
        pitch = width / holes
        radius = hole * min(pitch, depth)
        xs = [-width / 2 + (i + 0.5) * pitch for i in range(holes)]
        return _minus(plate, *(_cylinder(radius, thick + 2 * OVERLAP, (x, 0, 0)) for x in xs))
    if layout == "grid":
        centres = [(x * width, y * width, 0) for x, y in _HOLE_LAYOUTS[holes]]
        return _minus(plate, *(_cylinder(hole * width, thick + 2 * OVERLAP, c) for c in centres))
    return _minus(plate, *_grid_cutters(width, depth, holes, 1, bar, thick))


def _legs(width, depth, top_z, leg=0.06, inset=0.05):
    """Four square legs from the floor up into a slab whose underside is at `top_z`; returns legs and corners."""
    corners = [
        (sx * (width / 2 - inset - leg / 2), sy * (depth / 2 - inset - leg / 2)) for sx in (-1, 1) for sy in (-1, 1)
    ]
    legs = [_span_box((x - leg / 2, y - leg / 2, 0), (x + leg / 2, y + leg / 2, top_z + OVERLAP)) for x, y in corners]
    return legs, corners


def _sample_table(d):
    pedestal = d.chance(1 / 6)
    p = {"width": d.real(0.6, 1.0), "depth": d.real(0.4, 1.0), "height": d.real(0.3, 0.8)}
    p |= {"top": d.real(0.03, 0.07), "leg": d.real(0.05, 0.08), "stretchers": d.count(0, 4)}
    if pedestal:  # a round top (diameter = width) on a column: no stretchers, genus 0
        p |= {"depth": p["width"], "stretchers": 0}
    return p["stretchers"], {**p, "pedestal": pedestal}


def _build_table(width, depth, height, top, leg, stretchers, pedestal):
    if pedestal:  # round top on a central column and a foot disc: genus 0
        return _union(
            _cylinder(width / 2, top, (0, 0, height - top / 2)),
            _cylinder(leg, height, (0, 0, height / 2)),
            _cylinder(width / 4, top, (0, 0, top / 2)),
        )
    legs, corners = _legs(width, depth, height - top, leg)
    slab = _span_box((-width / 2, -depth / 2, height - top), (width / 2, depth / 2, height))
    # each stretcher bar joins two legs and closes one loop through the top; 3/4 of a leg thick
    x, y = corners[-1]
    b = 0.375 * leg
    z0, z1 = 0.15 * height, 0.15 * height + 2 * b
    bars = [
        _span_box((-x, -y - b, z0), (x, -y + b, z1)),
        _span_box((-x, y - b, z0), (x, y + b, z1)),
        _span_box((-x - b, -y, z0), (-x + b, y, z1)),
        _span_box((x - b, -y, z0), (x + b, y, z1)),
    ]
    return _union(slab, *legs, *bars[:stretchers])


def _sample_chair(d):
    p = {
        "width": d.real(0.45, 0.6),
        "depth": d.real(0.4, 0.6),
        "seat_z": d.real(0.35, 0.55),
        "seat": d.real(0.04, 0.07),
    }
    p |= {
        "back_h": d.real(0.3, 0.7),
        "thick": d.real(0.045, 0.07),
        "bar": d.real(0.045, 0.07),
        "leg": d.real(0.04, 0.07),
    }
    openings = d.count(0, 3)
    return openings, {**p, "openings": openings}


def _build_chair(width, depth, seat_z, seat, back_h, thick, bar, leg, openings):
    legs, _ = _legs(width, depth, seat_z - seat, leg, inset=0.01)
    slab = _span_box((-width / 2, -depth / 2, seat_z - seat), (width / 2, depth / 2, seat_z))
    # the back panel starts inside the seat so the two fuse; openings are cut through it front-to-back
    panel = _span_box((-width / 2, depth / 2 - thick, seat_z - seat), (width / 2, depth / 2, seat_z + back_h))
    if openings:
        cutters = _grid_cutters(width, back_h, openings, 1, bar, thick)
        for c in cutters:
            c.apply_transform(rotation_matrix(np.pi / 2, [1, 0, 0]))
            c.apply_translation((0, depth / 2 - thick / 2, seat_z + back_h / 2))
        panel = _minus(panel, *cutters)
    return _union(slab, panel, *legs)


def _sample_chain(count, d):
    """Coplanar tori in a row (a triple one maybe bent at a right angle), each overlapping the next: genus =
    count. The ranges keep a bent chain's first and last tori >= 0.06 apart."""
    majors = [d.real(0.2, 0.3) for _ in range(count)]
    minor = round(min(majors) * d.real(0.25, 0.4), 4)
    bent = d.chance(0.5) if count > 2 else False
    return count, {"majors": majors, "minor": minor, "bent": bent}


def _build_chain(majors, minor, bent):
    # neighbours sit R1 + R2 + r apart: their tubes overlap by r, yet neither tube enters the other's hole
    centres = [np.zeros(3)]
    for i in range(1, len(majors)):
        step = majors[i - 1] + majors[i] + minor
        direction = np.array([0.0, 1.0, 0.0]) if bent and i == len(majors) - 1 else np.array([1.0, 0.0, 0.0])
        centres.append(centres[-1] + step * direction)
    return _union(*(_torus(m, minor, c) for m, c in zip(majors, centres)))


def _sample_frame(d):
    nx, ny = d.count(1, 3), d.count(1, 2)
    p = {"width": d.real(0.8, 1.0), "depth": d.real(0.5, 0.9), "thick": d.real(0.05, 0.15), "bar": d.real(0.05, 0.12)}
    return nx * ny, {"nx": nx, "ny": ny, **p}


def _build_frame(nx, ny, bar, width, depth, thick):
    return _minus(_box((width, depth, thick)), *_grid_cutters(width, depth, nx, ny, bar, thick))


def _sample_ladder(d):
    rungs = d.count(2, 6)
    p = {"width": d.real(0.3, 0.8), "height": d.real(0.8, 1.2), "rail": d.real(0.04, 0.08), "rung": d.real(0.02, 0.035)}
    return rungs - 1, {"rungs": rungs, **p}


def _build_ladder(rungs, width, height, rail, rung):
    rails = [_box((rail, rail, height), (sx * width / 2, 0, height / 2)) for sx in (-1, 1)]
    steps = [_cylinder(rung, width, (0, 0, height * (i + 0.5) / rungs), axis="x") for i in range(rungs)]
    return _union(*rails, *steps)


def _sample_wheel(d):
    spokes = d.count(2, 6)
    p = {
        "inner": d.real(0.375, 0.45),
        "thick": d.real(0.06, 0.15),
        "hub": d.real(0.06, 0.12),
        "spoke": d.real(0.04, 0.07),
    }
    return spokes, {"spokes": spokes, **p}


def _build_wheel(spokes, inner, thick, hub, spoke, outer=0.5):
    rim = _build_ring(inner, outer, thick, 0)
    bars = []
    for i in range(spokes):
        bar = _span_box((0, -spoke / 2, -0.3 * thick), (inner + OVERLAP, spoke / 2, 0.3 * thick))
        bar.apply_transform(rotation_matrix(2 * np.pi * i / spokes, [0, 0, 1]))
        bars.append(bar)
    return _union(rim, _cylinder(hub, thick), *bars)


def _sample_bowl(d):
    # cut (in radii) at most 0.4: the opening stays wide, and the shell never closes into a cavity
    return 0, {"cut": d.real(-0.5, 0.4), "wall": d.real(0.04, 0.08)}


def _build_bowl(cut, wall, radius=0.5):
    return _minus(_sphere(radius), _sphere(radius - wall), _span_box((-1, -1, cut * radius), (1, 1, 1)))


_PHI = (1 + 5**0.5) / 2
_POLYHEDRA = {
    "tetra": [(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)],
    "octa": [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)],
    "icosa": [p for a in (-1, 1) for b in (-_PHI, _PHI) for p in ((0, a, b), (a, b, 0), (b, 0, a))],
    "dodeca": [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    + [p for a in (-1 / _PHI, 1 / _PHI) for b in (-_PHI, _PHI) for p in ((0, a, b), (a, b, 0), (b, 0, a))],
}


def _sample_polyhedron(d):
    kind = d.pick([*_POLYHEDRA, "prism"])
    sides = d.count(3, 8)
    p = {"kind": kind, "stretch": [d.real(0.6, 1.0) for _ in range(3)]}
    return 0, p | ({"sides": sides} if kind == "prism" else {})


def _build_polyhedron(kind, stretch, sides=0):
    if kind == "prism":
        mesh = creation.cylinder(radius=0.5, height=0.6, sections=sides)
    else:
        points = np.asarray(_POLYHEDRA[kind], float)
        mesh = _hull(0.5 * points / np.linalg.norm(points, axis=1).max())
    mesh.apply_scale(stretch)
    return mesh


def _sample_blocks(d):
    shape = d.pick(["l", "t", "jack", "stairs", "u"])
    bar = d.real(0.15, 0.3)
    p = {"shape": shape, "stretch": [d.real(0.6, 1.0) for _ in range(3)]}
    return 0, p | ({} if shape == "stairs" else {"bar": bar})  # the stairs have no bars


def _build_blocks(shape, stretch, bar=0.0):
    t = bar
    parts = {
        "l": [((-0.5, -t / 2, -0.5), (-0.5 + t, t / 2, 0.5)), ((-0.5, -t / 2, -0.5), (0.5, t / 2, -0.5 + t))],
        "t": [((-0.5, -t / 2, 0.5 - t), (0.5, t / 2, 0.5)), ((-t / 2, -t / 2, -0.5), (t / 2, t / 2, 0.5))],
        "jack": [
            ((-0.5, -t / 2, -t / 2), (0.5, t / 2, t / 2)),
            ((-t / 2, -0.5, -t / 2), (t / 2, 0.5, t / 2)),
            ((-t / 2, -t / 2, -0.5), (t / 2, t / 2, 0.5)),
        ],
        "stairs": [((-0.5 + i / 3, -0.3, -0.5), (0.5, 0.3, -0.5 + (i + 1) / 3)) for i in range(3)],
        "u": [
            ((-0.5, -t / 2, -0.5), (-0.5 + t, t / 2, 0.5)),
            ((0.5 - t, -t / 2, -0.5), (0.5, t / 2, 0.5)),
            ((-0.5, -t / 2, -0.5), (0.5, t / 2, -0.5 + t)),
        ],
    }[shape]
    # grow each box a little so neighbours overlap instead of sharing a face
    mesh = _union(*(_span_box(np.subtract(lo, OVERLAP / 2), np.add(hi, OVERLAP / 2)) for lo, hi in parts))
    mesh.apply_scale(stretch)
    return mesh


# Round-robin order: the first dozen entries already mix genus 0, 1, 2 and 3 across families. Appending a
# family at the end keeps every earlier family's objects; reordering changes which objects the first N are.
FAMILIES = {
    "sphere": (_sample_sphere, _build_sphere),
    "torus": (_sample_torus, _build_torus),
    "double_torus": (lambda d: _sample_chain(2, d), _build_chain),
    "box": (_sample_box, _build_box),
    "mug": (_sample_mug, _build_mug),
    "plate_holes": (_sample_plate_holes, _build_plate_holes),
    "triple_torus": (lambda d: _sample_chain(3, d), _build_chain),
    "chair": (_sample_chair, _build_chair),
    "ring": (_sample_ring, _build_ring),
    "table": (_sample_table, _build_table),
    "ellipsoid": (_sample_ellipsoid, _build_ellipsoid),
    "wheel": (_sample_wheel, _build_wheel),
    "cone": (_sample_cone, _build_cone),
    "frame": (_sample_frame, _build_frame),
    "capsule": (_sample_capsule, _build_capsule),
    "ladder": (_sample_ladder, _build_ladder),
    "cup": (_sample_cup, _build_cup),
    "bowl": (_sample_bowl, _build_bowl),
    "polyhedron": (_sample_polyhedron, _build_polyhedron),
    "blocks": (_sample_blocks, _build_blocks),
}


# --- the catalogue ------------------------------------------------------------------------------------------


def solid_name(family: str, index: int, seed: int = 0) -> str:
    """`<family>_<index:04d>` for catalogue seed 0, `<family>_s<seed>_<index:04d>` for another seed, so two
    catalogues never share a name for different shapes."""
    return f"{family}_{index:04d}" if seed == 0 else f"{family}_s{seed}_{index:04d}"


def solid(family: str, index: int, seed: int = 0) -> Solid:
    """Object `index` of `family` in catalogue `seed`: from a generator seeded by those three alone."""
    if family not in FAMILIES:
        raise KeyError(f"no procedural family {family!r} (known: {', '.join(FAMILIES)})")
    if seed < 0 or index < 0:
        raise ValueError(f"catalogue seed and index must be >= 0, got {seed}, {index}")
    gen = np.random.default_rng(int(fingerprint("catalogue", seed, family, index), 16))
    genus, params = FAMILIES[family][0](Draw(gen))
    return Solid(solid_name(family, index, seed), family, genus, params, index)


def catalogue(n: int, seed: int = 0, families: list[str] | None = None) -> list[Solid]:
    """The first `n` solids of catalogue `seed`, round-robin over `families` (all when empty or None, in
    FAMILIES' order): object 0 of every family, then object 1, ..."""
    families = list(families or FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or len(set(families)) != len(families):
        raise KeyError(f"unknown or repeated procedural families {families} (known: {', '.join(FAMILIES)})")
    return [solid(families[k % len(families)], k // len(families), seed) for k in range(n)]


_NAME = re.compile(r"(?P<family>[a-z_]+?)(?:_s(?P<seed>\d+))?_(?P<index>\d{4,})")


def by_name(name: str) -> Solid:
    """The catalogue entry called `name` (in whichever catalogue seed it names); KeyError if there is none."""
    m = _NAME.fullmatch(name)
    if m and m["family"] in FAMILIES:
        s = solid(m["family"], int(m["index"]), int(m["seed"] or 0))
        if s.name == name:  # rejects spellings that parse but are not the canonical name (torus_s0_0001)
            return s
    raise KeyError(f"no procedural solid named {name!r}")


def build(solid: Solid) -> trimesh.Trimesh:
    """Build the closed, single-component mesh of `solid` (deterministic)."""
    mesh = FAMILIES[solid.family][1](**solid.params)
    return trimesh.Trimesh(*subdivide_to_size(mesh.vertices, mesh.faces, MAX_EDGE * mesh.extents.max()))


# --- as a source (data.source=procedural) ---------------------------------------------------------------------

HAS_FAMILIES = True


def candidates(data) -> list[Candidate]:
    """The first data.num_objects solids of catalogue data.catalogue_seed over data.families."""
    return [
        Candidate(
            id=s.name,
            source="procedural",
            ref=s.family,
            license="generated",
            genus=s.genus,
            family=s.family,
            index=s.index,
            params=dict(s.params),
            load=lambda s=s: build(s),
        )
        for s in catalogue(data.num_objects, data.catalogue_seed, list(data.families))
    ]
