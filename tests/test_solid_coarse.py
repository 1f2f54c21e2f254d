"""02's coarse-to-fine inside test gives the same solid as winding numbers on the full grid, with far fewer
evaluations: thin-walled catalogue solids, a mesh with a hole (the 0.5 level spans it) and an open sheet."""

import numpy as np
import pytest
import trimesh

from hypershape.geometry import solid as solid_module
from hypershape.geometry.solid import COARSE, grid_inside, make_solid
from hypershape.geometry.topology import topology
from hypershape.sources.procedural import build, by_name


def holed_torus():
    """A torus with the 5% of its faces nearest a point on its outer equator removed (one round hole)."""
    m = trimesh.creation.torus(major_radius=0.6, minor_radius=0.25, major_sections=64, minor_sections=32)
    d = np.linalg.norm(m.triangles_center - [0.85, 0.0, 0.0], axis=1)
    return trimesh.Trimesh(m.vertices, m.faces[d > np.quantile(d, 0.05)], process=False)


def box_with_fin():
    """Closed 0.6-cube with an open 0.4 x 0.4 sheet (two triangles) standing on its top face."""
    fin = trimesh.Trimesh([[-0.2, 0, 0.3], [0.2, 0, 0.3], [0.2, 0, 0.7], [-0.2, 0, 0.7]], [[0, 1, 2], [0, 2, 3]])
    return trimesh.util.concatenate([trimesh.creation.box(extents=(0.6, 0.6, 0.6)), fin])


MESHES = {
    "cup_0005": lambda: build(by_name("cup_0005")),  # wall 0.04, the thinnest of 400: under a coarse cell
    "mug_0014": lambda: build(by_name("mug_0014")),
    "holed_torus": holed_torus,
    "box_with_fin": box_with_fin,
}
CASES = [(name, 64) for name in MESHES] + [("cup_0005", 128), ("mug_0014", 128)]
SLAB = 24
"""At 128 the full grid costs a minute on 2 cores: the test takes SLAB layers across the middle (the
mug's handle, the cup's walls) of make_solid's grid."""


def grid_of(mesh, resolution, padding=0.05):
    """The grid make_solid uses: (corner, step, counts)."""
    lo, hi = mesh.bounds
    extent = float((hi - lo).max())
    lo, hi = lo - padding * extent, hi + padding * extent
    step = (hi - lo).max() / (resolution - 1)
    return lo, step, np.ceil((hi - lo) / step - 1e-9).astype(int) + 1


@pytest.mark.parametrize("name,resolution", CASES)
def test_coarse_to_fine_inside_equals_the_full_grid(name, resolution, monkeypatch):
    mesh = MESHES[name]()
    lo, step, counts = grid_of(mesh, resolution)
    if resolution >= 128:
        lo, counts = lo + [0, 0, step * (counts[2] // 2 - SLAB // 2)], np.array([counts[0], counts[1], SLAB])
    evaluated = []
    counting = solid_module.winding_number

    def count(vertices, faces, points, **kw):
        evaluated.append(len(points))
        return counting(vertices, faces, points, **kw)

    full = grid_inside(mesh, lo, step, counts, coarse=1)
    monkeypatch.setattr(solid_module, "winding_number", count)
    fast = grid_inside(mesh, lo, step, counts, coarse=COARSE)
    assert full.any() and np.array_equal(fast, full)  # not one voxel differs
    # the point of it: at 128 well under half the grid's winding numbers (a quarter on the whole grid)
    if resolution >= 128:
        assert sum(evaluated) < 0.5 * full.size


@pytest.mark.parametrize("name", ["cup_0005", "holed_torus"])
def test_make_solid_is_the_same_solid(name, monkeypatch):
    mesh = MESHES[name]()
    fast = make_solid(mesh, 64)
    monkeypatch.setattr(solid_module, "COARSE", 1)
    full = make_solid(mesh, 64)
    assert np.array_equal(fast.vertices, full.vertices) and np.array_equal(fast.faces, full.faces)
    assert topology(fast)["genus"] == topology(full)["genus"]


def test_coarse_must_be_a_power_of_two():
    mesh = trimesh.creation.box()
    lo, step, counts = grid_of(mesh, 16)
    with pytest.raises(ValueError, match="power of two"):
        grid_inside(mesh, lo, step, counts, coarse=6)
