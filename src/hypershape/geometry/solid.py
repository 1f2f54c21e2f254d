"""Watertight step: the solid a (possibly broken) mesh bounds, and normalisation into a sphere."""
import igl
import numpy as np
import trimesh
from scipy.ndimage import binary_dilation, binary_erosion
from skimage.measure import marching_cubes

from .winding import winding_number


def make_solid(mesh, resolution, padding=0.05):
    """Solid bounded by `mesh`: inside where its generalized winding number is above 0.5.

    Marching cubes runs on winding sign x distance to the mesh in a narrow band around the boundary:
    the winding number alone is a 0/1 step, whose marching-cubes surface is terraced. Where the mesh has
    a hole, the distance is to the hole's rim on both sides, so the surface closes midway.

    The grid covers the bounding box padded by `padding` x its largest extent on each side, with cubic
    voxels and `resolution` samples along the largest axis. Holes are closed, shells and self-intersections
    merge into one solid, and the result is outward-oriented (volume > 0).
    """
    if mesh is None or len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise ValueError("make_solid: the mesh is empty (no faces)")
    lo, hi = mesh.bounds
    extent = float((hi - lo).max())
    if not np.isfinite(extent) or extent <= 0:
        raise ValueError("make_solid: the mesh has a degenerate bounding box")
    lo = lo - padding * extent
    hi = hi + padding * extent
    step = (hi - lo).max() / (resolution - 1)
    counts = np.ceil((hi - lo) / step - 1e-9).astype(int) + 1
    axes = [lo[i] + step * np.arange(counts[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)

    # |w| so that a mesh whose faces all point inwards still gives its solid rather than nothing.
    inside = np.abs(winding_number(mesh.vertices, mesh.faces, grid)).reshape(counts) > 0.5
    if not inside.any():
        raise ValueError("make_solid: no point has winding number above 0.5, the mesh bounds no volume")
    boundary = (inside & ~binary_erosion(inside)) | (~inside & ~binary_erosion(~inside, border_value=1))
    band = binary_dilation(boundary)
    field = np.where(inside, -2.0 * step, 2.0 * step)
    sq, _, _ = _tree(mesh).squared_distance(_v(mesh), _f(mesh), np.ascontiguousarray(grid[band.reshape(-1)]))
    field[band] = np.where(inside[band], -1.0, 1.0) * np.sqrt(np.maximum(sq, 0.0))
    # A layer of "outside" around the grid guarantees a closed surface even where the solid touches the box.
    field = np.pad(field, 1, constant_values=2.0 * step)

    verts, faces, _, _ = marching_cubes(field, level=0.0, spacing=(step, step, step))
    verts = verts - step + lo  # undo the pad layer, then shift to the box corner
    solid = trimesh.Trimesh(verts, faces, process=True)
    if len(solid.faces) == 0:
        raise ValueError("make_solid: marching cubes produced no surface")
    if solid.volume < 0:
        solid.invert()
    return solid


def _v(mesh):
    return np.ascontiguousarray(mesh.vertices, dtype=np.float64)


def _f(mesh):
    return np.ascontiguousarray(mesh.faces, dtype=np.int64)


def _tree(mesh):
    tree = igl.AABB()
    tree.init(_v(mesh), _f(mesh))
    return tree


def normalise(mesh, radius):
    """Centre the bounding box at the origin and scale the farthest vertex to `radius`.

    Returns (new mesh, T) with T the 4x4 transform applied, so original = inv(T) @ new.
    """
    centre = mesh.bounds.mean(axis=0)
    far = np.linalg.norm(mesh.vertices - centre, axis=1).max()
    if not far > 0:
        raise ValueError("normalise: the mesh has no extent")
    scale = radius / far
    T = np.eye(4)
    T[:3, :3] *= scale
    T[:3, 3] = -scale * centre
    out = mesh.copy()
    out.apply_transform(T)
    return out, T
