"""Connected components, closedness and genus of a triangle mesh."""

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import trimesh


def _edge_keys(faces):
    """One int64 per face edge (3 per face, in face order), the same for both orientations of an edge:
    np.unique on these is several times faster than on [n, 2] rows."""
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2).astype(np.int64), axis=1)
    return edges[:, 0] * (int(faces.max()) + 1) + edges[:, 1]


def _euler(faces):
    """(V, E, F, closed) of the faces [f,3]: closed means every edge lies on exactly two faces."""
    _, counts = np.unique(_edge_keys(faces), return_counts=True)
    return len(np.unique(faces)), len(counts), len(faces), bool(len(counts) and np.all(counts == 2))


def _face_components(faces):
    """Label faces by connected component, faces connected when they share an edge (of any valence)."""
    _, edge_id = np.unique(_edge_keys(faces), return_inverse=True)
    n_f, n_e = len(faces), int(edge_id.max()) + 1
    face_id = np.repeat(np.arange(n_f), 3)
    # Bipartite face-edge graph, so that non-manifold edges still connect their faces.
    g = scipy.sparse.coo_matrix((np.ones(3 * n_f), (face_id, n_f + edge_id.ravel())), shape=(n_f + n_e, n_f + n_e))
    _, labels = scipy.sparse.csgraph.connected_components(g, directed=False)
    _, labels = np.unique(labels[:n_f], return_inverse=True)
    return labels


def topology(mesh, min_area_fraction=0.01):
    """Topology of a triangle mesh, after merging duplicate vertices.

    Returns dict: components (raw), components_filtered (pieces with at least `min_area_fraction` of the
    area), closed_manifold (every component closed and edge-manifold), genus (list per kept component,
    None where that component is not closed manifold), volume (signed, 0.0 unless watertight and
    consistently wound), area, euler (V - E + F of the whole mesh).
    """
    empty = dict(components=0, components_filtered=0, closed_manifold=False, genus=[], volume=0.0, area=0.0, euler=0)
    if mesh is None or len(mesh.faces) == 0:
        return empty
    # Loaded meshes may repeat vertices per face; merging by position makes the topology visible.
    mesh = trimesh.Trimesh(mesh.vertices.copy(), mesh.faces.copy(), process=False)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    faces = np.asarray(mesh.faces)

    labels = _face_components(faces)
    area_faces = mesh.area_faces
    total_area = float(area_faces.sum())
    all_closed, genus = True, []
    for c in range(int(labels.max()) + 1):
        in_c = labels == c
        n_v, n_e, n_f, closed = _euler(faces[in_c])
        all_closed &= closed
        if area_faces[in_c].sum() < min_area_fraction * total_area:
            continue
        chi = n_v - n_e + n_f
        genus.append((2 - chi) // 2 if closed and chi % 2 == 0 else None)

    n_v, n_e, n_f, _ = _euler(faces)
    watertight = all_closed and mesh.is_winding_consistent
    return dict(
        components=int(labels.max()) + 1,
        components_filtered=len(genus),
        closed_manifold=bool(all_closed),
        genus=[None if g is None else int(g) for g in genus],
        volume=float(mesh.volume) if watertight else 0.0,
        area=total_area,
        euler=int(n_v - n_e + n_f),
    )


def genus_match(pred, truth) -> bool:
    """Whether two per-component genus lists (as `topology` gives them) are the same multiset. A component
    that is not closed manifold (None) never matches, nor does an empty list: two genus-0 blobs are not
    one genus-0 ball, and a surface whose genus cannot be scored is not credited."""
    if not pred or not truth or None in pred or None in truth:
        return False
    return sorted(pred) == sorted(truth)
