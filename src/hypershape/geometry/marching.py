"""Marching cubes of SDF grids over the cube [-bound, bound]^3."""

import numpy as np
import trimesh
from scipy.ndimage import binary_dilation, distance_transform_edt, label
from skimage.measure import marching_cubes

LEVEL_GAP = 1e-6
"""Grid values closer than this to the level are moved this far above it (outside). Marching cubes puts a
vertex on such a node from every edge that meets there; merging those coincident vertices pinches the
surface into edges of four faces, and a closed shape of the right genus reads as open. The move shifts
vertices by about LEVEL_GAP / |gradient|: far below any metric's resolution, far above the merge tolerance."""


def grid_points(resolution, bound):
    """Regular grid [resolution^3, 3] over [-bound, bound]^3, both ends included, in 'ij' order."""
    axis = np.linspace(-bound, bound, resolution)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)


def beside_surface(values: np.ndarray) -> np.ndarray:
    """Where in an SDF grid [r,r,r] marching cubes reads values: the points with a point of the other sign
    among their 3^3 neighbours (every corner of a cell the surface crosses is one)."""
    inside, cube = values < 0, np.ones((3, 3, 3), bool)
    return binary_dilation(inside, cube) & binary_dilation(~inside, cube)


def mesh_from_grid(values, bound, level=0.0):
    """Outward-oriented mesh of the `level` set of an SDF grid [r,r,r] (negative inside) over
    [-bound, bound]^3; an empty Trimesh if the level is not crossed. Raises ValueError on NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("mesh_from_grid: the SDF grid contains NaN")
    if not (values.min() < level < values.max()):
        return trimesh.Trimesh()
    values = np.where(np.abs(values - level) < LEVEL_GAP, level + LEVEL_GAP, values)
    step = 2.0 * bound / (values.shape[0] - 1)
    # 'ascent': the object is where values are below the level (negative inside).
    verts, faces, _, _ = marching_cubes(values, level=level, spacing=(step,) * 3, gradient_direction="ascent")
    mesh = trimesh.Trimesh(verts - bound, faces, process=True)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def closed_mesh(values, bound, fill_voids: bool = False):
    """mesh_from_grid of an SDF grid [r,r,r] (modified in place) whose outer layer is first set outside, so the
    mesh is closed where the inside reaches the grid's edge. fill_voids: each void is then made inside
    (fill_voids_in)."""
    values[[0, -1]], values[:, [0, -1]], values[:, :, [0, -1]] = 1.0, 1.0, 1.0
    if fill_voids:
        fill_voids_in(values)
    return mesh_from_grid(values, bound)


def close_gaps_in(values: np.ndarray, radius: float, bound: float, allowed: np.ndarray | None = None) -> np.ndarray:
    """Makes inside (in place, -2 LEVEL_GAP) every outside point of an SDF grid [r,r,r] over
    [-bound, bound]^3 that a morphological closing of the inside by a ball of `radius` adds: each gap, tunnel
    or notch narrower than about 2 radius, measured on the grid's points by Euclidean distance transforms.
    allowed (bool [r,r,r]): only these points may be added (e.g. a visual hull's inside, so that a hole some
    picture sees through stays open)."""
    step = 2.0 * bound / (values.shape[0] - 1)
    inside = ~(values > -LEVEL_GAP)  # what mesh_from_grid meshes as inside
    dilated = distance_transform_edt(~inside) * step <= radius
    closed = distance_transform_edt(dilated) * step > radius
    added = closed & ~inside if allowed is None else closed & ~inside & allowed
    values[added] = -2 * LEVEL_GAP
    return values


def fill_voids_in(values: np.ndarray) -> np.ndarray:
    """Makes inside (in place, -(|value| + 2 LEVEL_GAP)) every void of an SDF grid [r,r,r]: a region of
    outside points that no path through outside points, diagonal steps included, joins to the
    grid's outer layer. Such a void is sealed in the solid: no picture of the object shows it."""
    outside = values > -LEVEL_GAP  # what mesh_from_grid meshes as outside
    regions, _ = label(outside, structure=np.ones((3, 3, 3), bool))
    layer = np.ones_like(outside)
    layer[1:-1, 1:-1, 1:-1] = False
    void = outside & ~np.isin(regions, np.unique(regions[layer & outside]))
    values[void] = -(np.abs(values[void]) + 2 * LEVEL_GAP)
    return values


def mesh_from_sdf(fn, resolution, bound, batch=65536):
    """Evaluate `fn(points float32 [n,3]) -> [n]` over grid_points in batches and mesh its zero set."""
    points = grid_points(resolution, bound).astype(np.float32)
    values = np.empty(len(points))
    for i in range(0, len(points), batch):
        values[i : i + batch] = np.asarray(fn(points[i : i + batch]), dtype=np.float64).reshape(-1)
    return mesh_from_grid(values.reshape((resolution,) * 3), bound)
