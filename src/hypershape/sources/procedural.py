"""Offline catalogue of procedural solids whose genus is known by construction.

Every solid is a single closed manifold built from trimesh primitives and manifold3d booleans, so the
pipeline can run (and check its topology metrics against a known answer) without any download.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np
import trimesh
from trimesh import creation
from trimesh.transformations import rotation_matrix

SECTIONS = 48  # segments around a circle: smooth enough for SDF fitting, still a few thousand faces
OVERLAP = 0.02  # parts reach this far into each other, so unions never rely on faces merely touching


@dataclass(frozen=True)
class Solid:
    """One catalogue entry: a stable name, its family, the genus it has by construction, its parameters."""

    name: str
    family: str
    genus: int
    params: dict = field(default_factory=dict, hash=False)


def _n(x: float) -> str:
    """Three-digit hundredths for names: 0.35 -> '035'."""
    return f"{round(x * 100):03d}"


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


# --- families: variants (name, genus, params) and a builder taking those params --------------------------


def _sphere_variants():
    # cut: height (in radii) above which the sphere is sliced off; 1.0 keeps the whole sphere
    for cut in (1.0, 0.5, 0.0, -0.4):
        yield f"sphere_keep{_n((cut + 1) / 2)}", 0, {"cut": cut}


def _build_sphere(cut):
    ball = _sphere(0.5)
    if cut >= 1.0:
        return ball
    return _minus(ball, _span_box((-1, -1, 0.5 * cut), (1, 1, 1)))


def _ellipsoid_variants():
    for axes in (
        (1, 1, 0.5),
        (1, 0.7, 0.4),
        (1, 0.5, 0.5),
        (1, 1, 1.6),
        (1, 0.8, 0.8),
        (0.6, 0.6, 1.2),
        (1, 0.4, 0.2),
        (1, 0.9, 0.7),
    ):
        yield "ellipsoid_" + "_".join(_n(a) for a in axes), 0, {"axes": axes}


def _build_ellipsoid(axes):
    ball = _sphere(0.5)
    ball.apply_scale(axes)
    return ball


def _box_variants():
    for size in ((1, 1, 1), (1, 0.5, 0.25), (1, 1, 0.2), (0.3, 0.3, 1), (1, 0.6, 0.6), (1, 0.8, 0.4)):
        yield "box_" + "_".join(_n(s) for s in size), 0, {"size": size}


def _build_box(size):
    return _box(size)


def _capsule_variants():
    for length, radius in ((0.6, 0.2), (0.8, 0.1), (0.3, 0.3), (0.5, 0.15), (0.9, 0.05)):
        yield f"capsule_l{_n(length)}_r{_n(radius)}", 0, {"length": length, "radius": radius}


def _build_capsule(length, radius):
    return creation.capsule(height=length, radius=radius, count=[SECTIONS // 2, SECTIONS // 2])


def _cylinder_variants():
    for radius, height in ((0.5, 1.0), (0.5, 0.2), (0.2, 1.0), (0.5, 0.5), (0.35, 0.8), (0.5, 0.1)):
        yield f"cylinder_r{_n(radius)}_h{_n(height)}", 0, {"radius": radius, "height": height}


def _build_cylinder(radius, height):
    return _cylinder(radius, height)


def _cone_variants():
    for bottom, top, height in (
        (0.5, 0, 1),
        (0.3, 0, 1),
        (0.5, 0, 0.4),
        (0.5, 0.25, 0.8),
        (0.4, 0.15, 0.5),
        (0.5, 0.4, 0.6),
    ):
        params = {"bottom": bottom, "top": top, "height": height}
        yield f"cone_b{_n(bottom)}_t{_n(top)}_h{_n(height)}", 0, params


def _build_cone(bottom, top, height):
    angles = np.linspace(0, 2 * np.pi, SECTIONS, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
    apex = ring * top + [0, 0, height] if top > 0 else [[0, 0, height]]
    return _hull(np.vstack([ring * bottom, apex]))


def _torus_variants():
    proportions = [(0.35, r) for r in (0.05, 0.1, 0.15, 0.2, 0.25)]
    proportions += [(0.3, r) for r in (0.08, 0.12, 0.18)] + [(0.4, r) for r in (0.06, 0.1, 0.14, 0.22)]
    for major, minor in proportions:
        yield f"torus_maj{_n(major)}_min{_n(minor)}", 1, {"major": major, "minor": minor, "scale": (1, 1, 1)}
    # stretched tori: elliptic tube or elliptic ring, still genus 1
    for scale in ((1, 1, 0.5), (1, 1, 2.0), (1.5, 1, 1), (1.4, 0.8, 1.5)):
        name = "torus_maj035_min015_s" + "_".join(_n(s) for s in scale)
        yield name, 1, {"major": 0.35, "minor": 0.15, "scale": scale}


def _build_torus(major, minor, scale):
    ring = _torus(major, minor)
    ring.apply_scale(scale)
    return ring


def _cup_body(radius, height, wall):
    """Closed cylinder and the cavity to subtract from it (open at the top)."""
    body = _cylinder(radius, height, (0, 0, height / 2))
    cavity = _cylinder(radius - wall, height, (0, 0, wall + height / 2))
    return body, cavity


def _cup_variants():
    for radius, height, wall in ((0.3, 0.8, 0.04), (0.4, 0.5, 0.05), (0.25, 1.0, 0.03), (0.45, 0.3, 0.06)):
        params = {"radius": radius, "height": height, "wall": wall}
        yield f"cup_r{_n(radius)}_h{_n(height)}_w{_n(wall)}", 0, params


def _build_cup(radius, height, wall):
    body, cavity = _cup_body(radius, height, wall)
    return _minus(body, cavity)


def _mug_variants():
    for radius, height, wall, handle, thick in (
        (0.3, 0.8, 0.05, 0.2, 0.04),
        (0.35, 0.6, 0.05, 0.18, 0.05),
        (0.25, 0.9, 0.04, 0.25, 0.04),
        (0.4, 0.5, 0.06, 0.15, 0.05),
        (0.3, 0.7, 0.04, 0.22, 0.06),
        (0.3, 0.9, 0.05, 0.3, 0.05),
    ):
        params = {"radius": radius, "height": height, "wall": wall, "handle": handle, "thick": thick}
        yield f"mug_r{_n(radius)}_h{_n(height)}_hd{_n(handle)}_t{_n(thick)}", 1, params


def _build_mug(radius, height, wall, handle, thick):
    body, cavity = _cup_body(radius, height, wall)
    # the handle is a whole torus centred on the wall; the part inside the cup is absorbed or cut away
    grip = _torus(handle, thick, (radius, 0, height / 2), axis="y")
    return _minus(_union(body, grip), cavity)


def _ring_variants():
    for inner, outer, height, gem in (
        (0.3, 0.5, 0.1, 0),
        (0.4, 0.5, 0.3, 0),
        (0.4, 0.5, 1.0, 0),
        (0.15, 0.5, 0.2, 0),
        (0.25, 0.5, 0.5, 0),
        (0.35, 0.45, 0.15, 0.12),
    ):
        params = {"inner": inner, "outer": outer, "height": height, "gem": gem}
        yield f"ring_i{_n(inner)}_o{_n(outer)}_h{_n(height)}_g{_n(gem)}", 1, params


def _build_ring(inner, outer, height, gem):
    band = _minus(_cylinder(outer, height), _cylinder(inner, height + 2 * OVERLAP))
    if gem <= 0:
        return band
    return _union(band, _sphere(gem, (outer + gem / 2, 0, 0)))


_HOLE_LAYOUTS = {  # hole centres on a 0.8 x 0.8 plate
    1: [(0, 0)],
    2: [(-0.2, -0.2), (0.2, 0.2)],
    3: [(-0.2, -0.2), (0.2, -0.2), (0, 0.2)],
    4: [(-0.2, -0.2), (0.2, -0.2), (-0.2, 0.2), (0.2, 0.2)],
}


def _plate_holes_variants():
    for layout in ("row", "grid", "slots"):
        for holes in (2, 1, 3, 4):
            yield f"plate_holes_{layout}{holes}", holes, {"layout": layout, "holes": holes}


def _build_plate_holes(layout, holes):
    if layout == "row":  # long thin plate, round holes in a line
        width, thick = 1.0, 0.1
        pitch = width / holes
        cutters = [
            _cylinder(min(0.3 * pitch, 0.12), thick + 2 * OVERLAP, (-width / 2 + (i + 0.5) * pitch, 0, 0))
            for i in range(holes)
        ]
        return _minus(_box((width, 0.4, thick)), *cutters)
    if layout == "grid":  # square plate, round holes
        thick = 0.12
        cutters = [_cylinder(0.1, thick + 2 * OVERLAP, (x, y, 0)) for x, y in _HOLE_LAYOUTS[holes]]
        return _minus(_box((0.8, 0.8, thick)), *cutters)
    # thick block with square slots side by side
    thick = 0.3
    return _minus(_box((1.0, 0.5, thick)), *_grid_cutters(1.0, 0.5, holes, 1, 0.1, thick))


def _table_variants():
    for width, depth, height, stretchers in (
        (1.0, 0.6, 0.7, 0),
        (1.0, 0.6, 0.7, 1),
        (1.0, 0.6, 0.7, 2),
        (1.0, 0.6, 0.7, 4),
        (0.7, 0.7, 0.7, 0),
        (0.7, 0.7, 0.7, 4),
        (1.0, 0.5, 0.3, 0),
    ):
        params = {"width": width, "depth": depth, "height": height, "stretchers": stretchers, "pedestal": False}
        yield f"table_w{_n(width)}_d{_n(depth)}_h{_n(height)}_s{stretchers}", stretchers, params
    yield "table_round_pedestal", 0, {"width": 0.8, "depth": 0.8, "height": 0.7, "stretchers": 0, "pedestal": True}


def _legs(width, depth, top_z, leg=0.06, inset=0.05):
    """Four square legs from the floor up into a slab whose underside is at `top_z`; returns legs and corners."""
    corners = [
        (sx * (width / 2 - inset - leg / 2), sy * (depth / 2 - inset - leg / 2)) for sx in (-1, 1) for sy in (-1, 1)
    ]
    legs = [_span_box((x - leg / 2, y - leg / 2, 0), (x + leg / 2, y + leg / 2, top_z + OVERLAP)) for x, y in corners]
    return legs, corners


def _build_table(width, depth, height, stretchers, pedestal, top=0.05, leg=0.06):
    if pedestal:  # round top on a central column and a foot disc: genus 0
        return _union(
            _cylinder(width / 2, top, (0, 0, height - top / 2)),
            _cylinder(0.06, height, (0, 0, height / 2)),
            _cylinder(width / 4, top, (0, 0, top / 2)),
        )
    legs, corners = _legs(width, depth, height - top, leg)
    slab = _span_box((-width / 2, -depth / 2, height - top), (width / 2, depth / 2, height))
    # each stretcher bar joins two legs and closes one loop through the top
    x, y = corners[-1]
    z0, z1 = 0.15 * height, 0.15 * height + leg / 2
    bars = [
        _span_box((-x, -y - leg / 4, z0), (x, -y + leg / 4, z1)),
        _span_box((-x, y - leg / 4, z0), (x, y + leg / 4, z1)),
        _span_box((-x - leg / 4, -y, z0), (-x + leg / 4, y, z1)),
        _span_box((x - leg / 4, -y, z0), (x + leg / 4, y, z1)),
    ]
    return _union(slab, *legs, *bars[:stretchers])


def _chair_variants():
    for back, openings in (
        ("low", 1),
        ("low", 0),
        ("low", 2),
        ("low", 3),
        ("tall", 1),
        ("tall", 0),
        ("tall", 2),
        ("tall", 3),
    ):
        yield f"chair_{back}_open{openings}", openings, {"back": back, "openings": openings}


def _build_chair(back, openings, width=0.5, depth=0.5, seat_z=0.45, seat=0.05):
    legs, _ = _legs(width, depth, seat_z - seat, inset=0.01)
    slab = _span_box((-width / 2, -depth / 2, seat_z - seat), (width / 2, depth / 2, seat_z))
    back_h = 0.4 if back == "low" else 0.7
    thick = 0.05
    # the back panel starts inside the seat so the two fuse; openings are cut through it front-to-back
    panel = _span_box((-width / 2, depth / 2 - thick, seat_z - seat), (width / 2, depth / 2, seat_z + back_h))
    if openings:
        cutters = _grid_cutters(width, back_h, openings, 1, 0.06, thick)
        for c in cutters:
            c.apply_transform(rotation_matrix(np.pi / 2, [1, 0, 0]))
            c.apply_translation((0, depth / 2 - thick / 2, seat_z + back_h / 2))
        panel = _minus(panel, *cutters)
    return _union(slab, panel, *legs)


def _chain_variants(count):
    """Coplanar tori in a row (or bent at a right angle), each overlapping the next: genus = count."""
    family = {2: "double_torus", 3: "triple_torus"}[count]
    if count == 2:
        shapes = [
            ((0.25, 0.25), 0.08, False),
            ((0.25, 0.25), 0.12, False),
            ((0.3, 0.3), 0.1, False),
            ((0.2, 0.2), 0.1, False),
            ((0.25, 0.25), 0.16, False),
            ((0.2, 0.3), 0.09, False),
        ]
    else:
        shapes = [
            ((0.2,) * 3, 0.07, False),
            ((0.2,) * 3, 0.1, False),
            ((0.16,) * 3, 0.08, False),
            ((0.2,) * 3, 0.08, True),
            ((0.18,) * 3, 0.1, True),
            ((0.15, 0.2, 0.25), 0.07, False),
        ]
    for majors, minor, bent in shapes:
        name = f"{family}_" + "_".join(_n(m) for m in majors) + f"_min{_n(minor)}" + ("_bent" if bent else "")
        yield name, count, {"majors": majors, "minor": minor, "bent": bent}


def _build_chain(majors, minor, bent):
    # neighbours sit R1 + R2 + r apart: their tubes overlap by r, yet neither tube enters the other's hole
    centres = [np.zeros(3)]
    for i in range(1, len(majors)):
        step = majors[i - 1] + majors[i] + minor
        direction = np.array([0.0, 1.0, 0.0]) if bent and i == len(majors) - 1 else np.array([1.0, 0.0, 0.0])
        centres.append(centres[-1] + step * direction)
    return _union(*(_torus(m, minor, c) for m, c in zip(majors, centres)))


def _frame_variants():
    for nx, ny, bar in ((1, 1, 0.08), (2, 1, 0.08), (2, 2, 0.08), (3, 1, 0.08), (3, 2, 0.06), (1, 1, 0.25)):
        yield f"frame_{nx}x{ny}_b{_n(bar)}", nx * ny, {"nx": nx, "ny": ny, "bar": bar}


def _build_frame(nx, ny, bar, width=1.0, depth=0.8, thick=0.1):
    return _minus(_box((width, depth, thick)), *_grid_cutters(width, depth, nx, ny, bar, thick))


def _ladder_variants():
    for rungs, width in ((3, 0.5), (2, 0.5), (4, 0.5), (5, 0.5), (3, 0.8)):
        yield f"ladder_n{rungs}_w{_n(width)}", rungs - 1, {"rungs": rungs, "width": width}


def _build_ladder(rungs, width, height=1.0, rail=0.06):
    rails = [_box((rail, rail, height), (sx * width / 2, 0, height / 2)) for sx in (-1, 1)]
    steps = [_cylinder(0.02, width, (0, 0, height * (i + 0.5) / rungs), axis="x") for i in range(rungs)]
    return _union(*rails, *steps)


def _wheel_variants():
    for spokes in (3, 2, 4, 5, 6):
        yield f"wheel_spokes{spokes}", spokes, {"spokes": spokes}


def _build_wheel(spokes, inner=0.4, outer=0.5, thick=0.1):
    rim = _build_ring(inner, outer, thick, 0)
    hub = _cylinder(0.1, thick)
    bars = []
    for i in range(spokes):
        bar = _span_box((0, -0.025, -thick / 4), (inner + OVERLAP, 0.025, thick / 4))
        bar.apply_transform(rotation_matrix(2 * np.pi * i / spokes, [0, 0, 1]))
        bars.append(bar)
    return _union(rim, hub, *bars)


def _bowl_variants():
    for cut, wall in ((0.0, 0.05), (0.3, 0.04), (-0.4, 0.06)):
        yield f"bowl_keep{_n((cut + 1) / 2)}_w{_n(wall)}", 0, {"cut": cut, "wall": wall}


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


def _polyhedron_variants():
    for kind in ("tetra", "octa", "icosa", "dodeca", "prism3", "prism6"):
        yield f"polyhedron_{kind}", 0, {"kind": kind}


def _build_polyhedron(kind):
    if kind.startswith("prism"):
        return creation.cylinder(radius=0.5, height=0.6, sections=int(kind[-1]))
    points = np.asarray(_POLYHEDRA[kind], float)
    return _hull(0.5 * points / np.linalg.norm(points, axis=1).max())


def _blocks_variants():
    for shape in ("l", "t", "jack", "stairs", "u"):
        yield f"blocks_{shape}", 0, {"shape": shape}


def _build_blocks(shape):
    t = 0.25  # bar thickness
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
    return _union(*(_span_box(np.subtract(lo, OVERLAP / 2), np.add(hi, OVERLAP / 2)) for lo, hi in parts))


# Interleaving order: the first dozen entries already mix genus 0, 1, 2 and 3 across families.
_FAMILIES = {
    "sphere": (_sphere_variants, _build_sphere),
    "torus": (_torus_variants, _build_torus),
    "double_torus": (lambda: _chain_variants(2), _build_chain),
    "box": (_box_variants, _build_box),
    "mug": (_mug_variants, _build_mug),
    "plate_holes": (_plate_holes_variants, _build_plate_holes),
    "triple_torus": (lambda: _chain_variants(3), _build_chain),
    "chair": (_chair_variants, _build_chair),
    "cylinder": (_cylinder_variants, _build_cylinder),
    "ring": (_ring_variants, _build_ring),
    "table": (_table_variants, _build_table),
    "ellipsoid": (_ellipsoid_variants, _build_ellipsoid),
    "wheel": (_wheel_variants, _build_wheel),
    "cone": (_cone_variants, _build_cone),
    "frame": (_frame_variants, _build_frame),
    "capsule": (_capsule_variants, _build_capsule),
    "ladder": (_ladder_variants, _build_ladder),
    "cup": (_cup_variants, _build_cup),
    "bowl": (_bowl_variants, _build_bowl),
    "polyhedron": (_polyhedron_variants, _build_polyhedron),
    "blocks": (_blocks_variants, _build_blocks),
}


def catalogue() -> list[Solid]:
    """All solids, in a fixed order that takes one of each family in turn (round-robin)."""
    per_family = [
        [Solid(name, family, genus, params) for name, genus, params in variants()]
        for family, (variants, _) in _FAMILIES.items()
    ]
    return [s for group in zip_longest(*per_family) for s in group if s is not None]


def by_name(name: str) -> Solid:
    """The catalogue entry called `name`; KeyError if there is none."""
    for solid in catalogue():
        if solid.name == name:
            return solid
    raise KeyError(f"no procedural solid named {name!r}")


def build(solid: Solid) -> trimesh.Trimesh:
    """Build the closed, single-component mesh of `solid` (deterministic)."""
    return _FAMILIES[solid.family][1](**solid.params)
