"""Surface metrics in the normalised frame (docs/design.md, "Metrics")."""

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from .sdf import sample_surface
from .topology import topology

# Worst Chamfer-L1: the diagonal of the cube [-1, 1]^3; Chamfer-L2's worst is its square.
WORST_CHAMFER = 2.0 * np.sqrt(3.0)
# Reference surface of the sampling floor: a torus as large as the objects (outer radius 0.6 + 0.3 = 0.9,
# data.radius) and finely tessellated, so the floor is that of a smooth object-sized surface.
FLOOR_TORUS = dict(major_radius=0.6, minor_radius=0.3, major_sections=128, minor_sections=64)


def fscore_key(tau) -> str:
    """The metric name of the F-score at `tau` (e.g. fscore_0.01), in rows, CSV and summary."""
    return f"fscore_{float(tau)}"


def nearest(p, q):
    """Nearest neighbours both ways, from one KD-tree per point set: (distance p->q, index into q,
    distance q->p, index into p). Every surface metric is read off these."""
    tree_p, tree_q = cKDTree(p), cKDTree(q)
    d_pq, i_pq = tree_q.query(p, k=1, workers=-1)
    d_qp, i_qp = tree_p.query(q, k=1, workers=-1)
    return d_pq, i_pq, d_qp, i_qp


def chamfer_of(d_pq, d_qp):
    """(L1, L2): half the sum of the mean (squared) nearest-neighbour distances p->q and q->p."""
    return 0.5 * (d_pq.mean() + d_qp.mean()), 0.5 * ((d_pq**2).mean() + (d_qp**2).mean())


def fscore_of(d_pq, d_qp, tau):
    """Harmonic mean of precision (share of p within tau of q) and recall (share of q within tau of p)."""
    precision, recall = float((d_pq < tau).mean()), float((d_qp < tau).mean())
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def normal_consistency_of(np_, nq, i_pq, i_qp):
    """Mean |n . n'| over nearest neighbours, averaged over both directions (unit normals assumed)."""
    a = np.abs(np.sum(np_ * nq[i_pq], axis=1)).mean()
    b = np.abs(np.sum(nq * np_[i_qp], axis=1)).mean()
    return float(0.5 * (a + b))


def chamfer(p, q):
    d_pq, _, d_qp, _ = nearest(p, q)
    return chamfer_of(d_pq, d_qp)


def fscore(p, q, tau):
    d_pq, _, d_qp, _ = nearest(p, q)
    return fscore_of(d_pq, d_qp, tau)


def normal_consistency(p, np_, q, nq):
    _, i_pq, _, i_qp = nearest(p, q)
    return normal_consistency_of(np_, nq, i_pq, i_qp)


def volumetric_iou(inside_gt, inside_pred):
    """|gt & pred| / |gt | pred| over the same query points (1.0 if both are empty)."""
    inside_gt, inside_pred = np.asarray(inside_gt, bool), np.asarray(inside_pred, bool)
    union = np.logical_or(inside_gt, inside_pred).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(inside_gt, inside_pred).sum() / union)


def surface_error(field, points) -> float:
    """Mean |f(p)| of a field f (points [n,3] -> [n]) over ground-truth surface points (Davies et al.):
    the one definition 60 and 90 both use, on the field as fitted."""
    return float(np.abs(np.asarray(field(np.asarray(points, dtype=np.float32)), dtype=np.float64)).mean())


def touches_domain(mesh, radius) -> float:
    """Share of the mesh's area (by face centroid) at distance >= `radius` from the origin: surface made
    where no object lies (objects end at data.radius < radius), e.g. at the scored cube's walls or corners.
    An empty mesh gets the worst value, 1.0."""
    if len(mesh.faces) == 0 or not mesh.area > 0:
        return 1.0
    far = np.linalg.norm(mesh.triangles_center, axis=1) >= radius
    return float(mesh.area_faces[far].sum() / mesh.area)


def mesh_metrics(pred, gt, n_points=30000, taus=(0.01, 0.02), rng=None, gt_sample=None):
    """Chamfer-L1/L2, F-score at each tau, normal consistency and the topology of `pred` against `gt`.
    `gt_sample`: gt's (points, normals) if already drawn (one draw serves every field scored against it).

    `genus` is the list per component kept by `topology` (None where not closed manifold).
    An empty pred (no faces or no area) scores the worst value of each metric, with empty=True.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    topo = topology(pred)
    out = dict(
        components=topo["components"],
        components_filtered=topo["components_filtered"],
        closed_manifold=topo["closed_manifold"],
        genus=topo["genus"],
    )
    if len(pred.faces) == 0 or not pred.area > 0:
        out.update(
            chamfer_l1=float(WORST_CHAMFER), chamfer_l2=float(WORST_CHAMFER**2), normal_consistency=0.0, empty=True
        )
        out.update({fscore_key(t): 0.0 for t in taus})
        return out
    p, n_p = sample_surface(pred, n_points, rng)
    q, n_q = sample_surface(gt, n_points, rng) if gt_sample is None else gt_sample
    d_pq, i_pq, d_qp, i_qp = nearest(p, q)  # two KD-trees serve every metric
    l1, l2 = chamfer_of(d_pq, d_qp)
    out.update(
        chamfer_l1=float(l1),
        chamfer_l2=float(l2),
        normal_consistency=normal_consistency_of(n_p, n_q, i_pq, i_qp),
        empty=False,
    )
    out.update({fscore_key(t): fscore_of(d_pq, d_qp, t) for t in taus})
    return out


def sampling_floor(rc, gen, mesh=None) -> dict:
    """Chamfer-L1/L2 and the F-score at every `rc.taus` between two independent samplings of one surface at
    `rc.n_points` points each: what IDENTICAL shapes score, the floor every reconstruction is read against.
    `mesh` defaults to the FLOOR_TORUS reference (any unit-sphere-scaled solid will do)."""
    mesh = trimesh.creation.torus(**FLOOR_TORUS) if mesh is None else mesh
    m = mesh_metrics(mesh, mesh, rc.n_points, tuple(rc.taus), gen)
    return {k: m[k] for k in ("chamfer_l1", "chamfer_l2", *map(fscore_key, rc.taus))}
