"""Generalized winding numbers (Jacobson et al. 2013) through libigl."""

import igl
import numpy as np

CHUNK = 250_000


def _igl_arrays(vertices, faces):
    v = np.ascontiguousarray(vertices, dtype=np.float64)
    f = np.ascontiguousarray(faces, dtype=np.int64)
    return v, f


def winding_number(vertices, faces, points, chunk=CHUNK):
    """Generalized winding number of `points` [n,3] w.r.t. the triangle soup (vertices, faces).

    About 1 inside a closed outward-oriented surface, 0 outside, and a smooth value in between near holes.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(faces) == 0:
        return np.zeros(len(points))
    v, f = _igl_arrays(vertices, faces)
    # The cached hierarchy is igl.fast_winding_number's own tree, built once for all chunks.
    bvh = igl.FastWindingNumberBVH()
    bvh.init(v, f)
    out = np.empty(len(points))
    for i in range(0, len(points), chunk):
        out[i : i + chunk] = bvh.winding_number(np.ascontiguousarray(points[i : i + chunk]))
    return out
