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
# Coarse-to-fine inside test (grid_inside): winding numbers on the corners of cells COARSE grid steps wide,
# halved only near the surface or where the answer may change. The answer is the same as on the full grid
# (tests/test_solid_coarse.py) with about resolution^2 evaluations instead of resolution^3.
COARSE = 8
# A corner whose |winding number| is within this of 0.5 does not vouch for its cell (see grid_inside).
UNSURE = 0.25
# A probe end counts as clear of other surfaces (see _unclear_probes) if nothing is nearer than
# (1 - CLEAR) x the probe's offset: the face itself is at the offset, up to rounding.
CLEAR = 1e-6


def check_mesh(mesh) -> None:
    """Raise ValueError naming what makes `mesh` unusable: no triangles, non-finite vertices, bad face indices."""
    if mesh is None or len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise ValueError("make_solid: the mesh is empty (no triangles)")
    if not np.isfinite(mesh.vertices).all():
        raise ValueError("make_solid: the mesh has NaN or infinite vertex coordinates")
    if mesh.faces.min() < 0 or mesh.faces.max() >= len(mesh.vertices):
        raise ValueError(f"make_solid: a face index is out of range ({len(mesh.vertices)} vertices)")


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
    check_mesh(mesh)
    lo, hi = mesh.bounds
    extent = float((hi - lo).max())
    if not extent > 0:
        raise ValueError("make_solid: the mesh is degenerate (all its vertices coincide: no volume)")
    lo = lo - padding * extent
    hi = hi + padding * extent
    step = (hi - lo).max() / (resolution - 1)
    thickness = thin_voxels * step
    counts = np.ceil((hi - lo) / step - 1e-9).astype(int) + 1

    inside = grid_inside(mesh, lo, step, counts, COARSE)
    sheet = sheet_faces(mesh, thickness)
    if not inside.any() and not sheet.any():
        raise ValueError("make_solid: no point has winding number above 0.5 and no face is a sheet: no volume")
    boundary = (inside & ~binary_erosion(inside)) | (~inside & ~binary_erosion(~inside, border_value=1))
    band = binary_dilation(boundary)
    field = np.where(inside, -2.0 * step, 2.0 * step)
    sq, _, _ = _tree(mesh).squared_distance(_v(mesh), _f(mesh), _grid_points(lo, step, np.argwhere(band)))
    field[band] = np.where(inside[band], -1.0, 1.0) * np.sqrt(np.maximum(sq, 0.0))
    if sheet.any():
        # Union with the slab around the sheets, on the grid points near enough to them to matter
        # (elsewhere the slab's field is above 2 steps, which the field is clipped to anyway).
        part = trimesh.Trimesh(mesh.vertices, mesh.faces[sheet], process=False)
        part.remove_unreferenced_vertices()
        reach = thickness + 2.0 * step
        first = np.maximum(np.ceil((part.bounds[0] - reach - lo) / step - 1e-9).astype(int), 0)
        last = np.minimum(np.floor((part.bounds[1] + reach - lo) / step + 1e-9).astype(int), counts - 1)
        box = tuple(slice(a, b + 1) for a, b in zip(first, last))
        idx = np.stack(np.meshgrid(*[np.arange(a, b + 1) for a, b in zip(first, last)], indexing="ij"), -1)
        sq, _, _ = _tree(part).squared_distance(_v(part), _f(part), _grid_points(lo, step, idx.reshape(-1, 3)))
        field[box] = np.minimum(field[box], (np.sqrt(np.maximum(sq, 0.0)) - thickness).reshape(idx.shape[:3]))
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


def grid_inside(mesh, lo, step, counts, coarse=COARSE):
    """|generalized winding number| > 0.5 on the grid lo + step * (i, j, k), i < counts[0] ... (bool array
    of shape `counts`), evaluated coarse-to-fine: on the corners of cells `coarse` steps wide first, then
    cells are halved only where the answer may change inside them, down to the grid itself.

    A cell is halved when the mesh comes within its circumscribed ball (unsigned distance of its centre,
    AABB tree): a surface may pass through it, even one its corners miss (a wall thinner than the cell).
    It is halved too when its corners disagree or one of them is within UNSURE of 0.5: without a surface
    inside, that is the 0.5 level of an open mesh spanning a hole, where the winding number is smooth.
    Any other cell holds no surface and has its corners well on one side of 0.5, and so do all its
    points (exactly so for a closed mesh, where the winding number is constant off the surface): they
    take the corners' answer. `coarse` is a power of two; coarse=1 is the full grid."""
    counts = np.asarray(counts)
    if coarse <= 1:
        idx = np.indices(counts).reshape(3, -1).T
        w = winding_number(mesh.vertices, mesh.faces, _grid_points(lo, step, idx))
        return np.abs(w).reshape(counts) > 0.5
    if coarse & (coarse - 1):
        raise ValueError(f"grid_inside: coarse must be a power of two, got {coarse}")
    tree = _tree(mesh)
    shifts = np.indices((2, 2, 2)).reshape(3, -1).T
    n = -(-(counts - 1) // coarse)  # cells per axis; the last ones may reach past the grid
    cells = np.indices(n).reshape(3, -1).T * coarse
    span = tuple(n * coarse + 1)  # every corner index lies below this
    inside = np.zeros(counts, dtype=bool)
    size = coarse
    while len(cells):
        corners = cells[:, None, :] + size * shifts[None]  # [cells, 8, 3]
        linear, which = np.unique(np.ravel_multi_index(corners.reshape(-1, 3).T, span), return_inverse=True)
        points = np.stack(np.unravel_index(linear, span), axis=1)
        w = np.abs(winding_number(mesh.vertices, mesh.faces, _grid_points(lo, step, points)))
        w = w[which.reshape(-1)].reshape(-1, 8)
        if size == 1:  # the cells' corners are the grid points themselves
            keep = np.all(corners < counts, axis=-1)
            inside[tuple(corners[keep].T)] = w[keep] > 0.5
            break
        sq, _, _ = tree.squared_distance(_v(mesh), _f(mesh), _grid_points(lo, step, cells + size / 2))
        near = np.sqrt(np.maximum(sq, 0.0)) <= np.sqrt(3) / 2 * size * step
        sure = np.all(w > 0.5 + UNSURE, axis=1) | np.all(w < 0.5 - UNSURE, axis=1)
        settled = sure & ~near
        block = np.indices((size + 1,) * 3).reshape(3, -1).T
        for part in np.array_split(np.flatnonzero(settled & (w[:, 0] > 0.5)), max(1, settled.sum() // 4096)):
            idx = (cells[part, None, :] + block[None]).reshape(-1, 3)
            idx = idx[np.all(idx < counts, axis=1)]
            inside[tuple(idx.T)] = True
        size //= 2
        cells = (cells[~settled, None, :] + size * shifts[None]).reshape(-1, 3)
        cells = cells[np.all(cells < counts, axis=1)]
    return inside


def _grid_points(lo, step, idx):
    """Coordinates of grid points given by their (possibly fractional) indices [n, 3]."""
    return np.ascontiguousarray(lo + step * np.asarray(idx, dtype=np.float64))


def sheet_faces(mesh, offset):
    """Mask of the faces of `mesh` that bound no volume: at one of their probe points, the winding numbers
    `offset` off the face on its two sides average to less than SHEET_MEAN in magnitude. These are the
    faces of open sheets, and of closed walls thinner than `offset` (outside on both sides); a closed
    surface, or one with a hole punched in it, has the inside on one side and averages about 1/2."""
    normals, valid = trimesh.triangles.normals(mesh.triangles)
    tri = mesh.triangles[valid]
    if len(tri) == 0:
        return np.zeros(len(mesh.faces), dtype=bool)
    probes = np.einsum("kb,fbd->fkd", PROBES, tri).reshape(-1, 3)  # [faces * probes, 3]
    off = offset * np.repeat(normals, len(PROBES), axis=0)
    ask = _unclear_probes(mesh, tri, probes, off, offset)
    mean = np.full(len(probes), 0.5)
    if ask.any():
        w = winding_number(mesh.vertices, mesh.faces, np.concatenate([probes[ask] + off[ask], probes[ask] - off[ask]]))
        mean[ask] = w.reshape(2, -1).mean(axis=0)
    sheet = np.zeros(len(mesh.faces), dtype=bool)
    sheet[valid] = (np.abs(mean.reshape(len(tri), len(PROBES))) < SHEET_MEAN).any(axis=1)
    return sheet


def _unclear_probes(mesh, tri, probes, off, offset):
    """Which probe points need their winding numbers. On a closed, consistently wound mesh the winding
    number is an integer that changes by exactly 1 across a face, so where no other surface is nearer
    than `offset` to either end of a probe, the two ends differ by 1, their mean is not below SHEET_MEAN,
    and the face is no sheet there: only the other probes are asked (most of them, on a thick solid, are
    not). A face with a coincident twin (a sheet closed by its reversed copy) changes the winding number
    by 0 or 2 and is always asked; any mesh that is not closed has every probe asked."""
    if not (mesh.is_watertight and mesh.is_winding_consistent):
        return np.ones(len(probes), dtype=bool)
    tree = _tree(mesh)
    clear = (1.0 - CLEAR) ** 2 * offset**2
    ask = np.repeat(_has_twin(tri), len(PROBES))
    for sign in (1.0, -1.0):
        sq, _, _ = tree.squared_distance(_v(mesh), _f(mesh), np.ascontiguousarray(probes + sign * off))
        ask |= sq < clear
    return ask


def _has_twin(tri):
    """Faces [f, 3, 3] whose three corners, in any order, are those of another face."""
    corners = np.ascontiguousarray(np.round(tri, 9), dtype=np.float64)
    corners = np.sort(corners.view([("", np.float64)] * 3).reshape(len(tri), 3), axis=1)  # corners by x, y, z
    _, inverse, counts = np.unique(
        corners.view(np.float64).reshape(len(tri), 9), axis=0, return_inverse=True, return_counts=True
    )
    return counts[inverse.ravel()] > 1


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
