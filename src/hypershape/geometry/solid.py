"""Watertight step: the solid a (possibly broken) mesh bounds, and normalisation into a sphere."""

import igl
import numpy as np
import trimesh
from scipy.ndimage import binary_dilation, binary_erosion
from skimage.measure import marching_cubes

from .sdf import sample_surface
from .winding import winding_number

# Mean of the winding numbers just either side of a surface (its principal value there): 1/2 on a surface
# that bounds a volume, inside on one side and outside on the other (about 0.3 even at the rim of a hole
# punched in it), about 0 on an open sheet with the outside on both sides. 1/4 tells the two apart.
SHEET_MEAN = 0.25
# Probe points per face for that test, in barycentric coordinates: the centre and one towards each corner,
# so that a large face of a sheet that passes into a closed part is still seen where it sticks out.
PROBES = np.array([[1 / 3, 1 / 3, 1 / 3], [2 / 3, 1 / 6, 1 / 6], [1 / 6, 2 / 3, 1 / 6], [1 / 6, 1 / 6, 2 / 3]])


def make_solid(mesh, resolution, padding=0.05, thin_voxels=1.0):
    """Solid bounded by `mesh`: inside where its generalized winding number is above 0.5, united with a
    slab of half-thickness `thin_voxels` voxels around every part of the surface that bounds no volume
    (open sheets such as a wing or a fin, and closed walls thinner than that; see `sheet_faces`).

    Marching cubes runs on winding sign x distance to the mesh in a narrow band around the boundary:
    the winding number alone is a 0/1 step, whose marching-cubes surface is terraced. Where the mesh has
    a hole, the distance is to the hole's rim on both sides, so the surface closes midway. The slab's
    field is (distance to the sheet) - thickness, and the two are united by their minimum, so a sheet's
    surface lies `thin_voxels` voxels off it on both sides and closed parts keep their surface, volume
    and genus. `thin_voxels` should be at least sqrt(3)/2: then every cell a sheet crosses has a corner
    inside the slab, and the slab has no holes.

    The grid covers the bounding box padded by `padding` x its largest extent on each side, with cubic
    voxels and `resolution` samples along the largest axis. Holes are closed, shells and self-intersections
    merge into one solid, and the result is outward-oriented (volume > 0).
    """
    if mesh is None or len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise ValueError("make_solid: the mesh is empty (no triangles)")
    if not np.isfinite(mesh.vertices).all():
        raise ValueError("make_solid: the mesh has NaN or infinite vertex coordinates")
    if mesh.faces.min() < 0 or mesh.faces.max() >= len(mesh.vertices):
        raise ValueError(f"make_solid: a face index is out of range ({len(mesh.vertices)} vertices)")
    lo, hi = mesh.bounds
    extent = float((hi - lo).max())
    if not extent > 0:
        raise ValueError("make_solid: the mesh is degenerate (all its vertices coincide: no volume)")
    lo = lo - padding * extent
    hi = hi + padding * extent
    step = (hi - lo).max() / (resolution - 1)
    thickness = thin_voxels * step
    counts = np.ceil((hi - lo) / step - 1e-9).astype(int) + 1
    axes = [lo[i] + step * np.arange(counts[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)

    # |w| so that a mesh whose faces all point inwards still gives its solid rather than nothing.
    inside = np.abs(winding_number(mesh.vertices, mesh.faces, grid)).reshape(counts) > 0.5
    sheet = sheet_faces(mesh, thickness)
    if not inside.any() and not sheet.any():
        raise ValueError("make_solid: no point has winding number above 0.5 and no face is a sheet: no volume")
    boundary = (inside & ~binary_erosion(inside)) | (~inside & ~binary_erosion(~inside, border_value=1))
    band = binary_dilation(boundary)
    field = np.where(inside, -2.0 * step, 2.0 * step)
    sq, _, _ = _tree(mesh).squared_distance(_v(mesh), _f(mesh), np.ascontiguousarray(grid[band.reshape(-1)]))
    field[band] = np.where(inside[band], -1.0, 1.0) * np.sqrt(np.maximum(sq, 0.0))
    if sheet.any():
        # Union with the slab around the sheets, on the grid points near enough to them to matter
        # (elsewhere the slab's field is above 2 steps, which the field is clipped to anyway).
        part = trimesh.Trimesh(mesh.vertices, mesh.faces[sheet], process=False)
        part.remove_unreferenced_vertices()
        reach = thickness + 2.0 * step
        near = np.all((grid >= part.bounds[0] - reach) & (grid <= part.bounds[1] + reach), axis=1)
        sq, _, _ = _tree(part).squared_distance(_v(part), _f(part), np.ascontiguousarray(grid[near]))
        flat = field.reshape(-1)
        flat[near] = np.minimum(flat[near], np.sqrt(np.maximum(sq, 0.0)) - thickness)
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


def sheet_faces(mesh, offset):
    """Mask of the faces of `mesh` that bound no volume: at one of their probe points, the winding numbers
    `offset` off the face on its two sides average to less than SHEET_MEAN in magnitude. These are the
    faces of open sheets, and of closed walls thinner than `offset` (outside on both sides); a closed
    surface, or one with a hole punched in it, has the inside on one side and averages about 1/2."""
    normals, valid = trimesh.triangles.normals(mesh.triangles)
    tri = mesh.triangles[valid]
    if len(tri) == 0:
        return np.zeros(len(mesh.faces), dtype=bool)
    probes = np.einsum("kb,fbd->fkd", PROBES, tri)  # [faces, probes, 3]
    off = offset * normals[:, None, :]
    w = winding_number(mesh.vertices, mesh.faces, np.concatenate([probes + off, probes - off]).reshape(-1, 3))
    mean = w.reshape(2, len(tri), len(PROBES)).mean(axis=0)
    sheet = np.zeros(len(mesh.faces), dtype=bool)
    sheet[valid] = (np.abs(mean) < SHEET_MEAN).any(axis=1)
    return sheet


def faithfulness(raw, solid, transform, n_points, distance, rng):
    """Share of the surface of `raw` within `distance` of the surface of `solid`: `n_points` area-uniform
    points on `raw`, mapped by `transform` (raw frame -> the solid's frame). 1.0 when the solid keeps
    every part of the mesh; parts the solid lost (an eroded sheet) or buried (inner faces) lower it."""
    points, _ = sample_surface(raw, n_points, rng)
    points = trimesh.transform_points(points, transform)
    sq, _, _ = _tree(solid).squared_distance(_v(solid), _f(solid), np.ascontiguousarray(points))
    return float(np.mean(np.sqrt(np.maximum(sq, 0.0)) <= distance))


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
