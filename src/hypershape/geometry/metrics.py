"""Surface metrics in the normalised frame (DESIGN.md, "Metrics")."""
import numpy as np
from scipy.spatial import cKDTree

from .sdf import sample_surface
from .topology import topology, total_genus

# Worst Chamfer-L1: the diagonal of the cube [-1, 1]^3; Chamfer-L2's worst is its square.
WORST_CHAMFER = 2.0 * np.sqrt(3.0)


def _nn(src, dst):
    """Distance and index of each src point's nearest neighbour in dst."""
    return cKDTree(dst).query(src, k=1, workers=-1)


def chamfer(p, q):
    """(L1, L2): half the sum of the mean (squared) nearest-neighbour distances p->q and q->p."""
    d_pq, _ = _nn(p, q)
    d_qp, _ = _nn(q, p)
    return 0.5 * (d_pq.mean() + d_qp.mean()), 0.5 * ((d_pq ** 2).mean() + (d_qp ** 2).mean())


def fscore(p, q, tau):
    """Harmonic mean of precision (share of p within tau of q) and recall (share of q within tau of p)."""
    d_pq, _ = _nn(p, q)
    d_qp, _ = _nn(q, p)
    precision, recall = float((d_pq < tau).mean()), float((d_qp < tau).mean())
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def normal_consistency(p, np_, q, nq):
    """Mean |n . n'| over nearest neighbours, averaged over both directions (unit normals assumed)."""
    _, i_pq = _nn(p, q)
    _, i_qp = _nn(q, p)
    a = np.abs(np.sum(np_ * nq[i_pq], axis=1)).mean()
    b = np.abs(np.sum(nq * np_[i_qp], axis=1)).mean()
    return float(0.5 * (a + b))


def volumetric_iou(inside_gt, inside_pred):
    """|gt & pred| / |gt | pred| over the same query points (1.0 if both are empty)."""
    inside_gt, inside_pred = np.asarray(inside_gt, bool), np.asarray(inside_pred, bool)
    union = np.logical_or(inside_gt, inside_pred).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(inside_gt, inside_pred).sum() / union)


def uniform_cube_points(n, rng, bound=1.0):
    """`n` points uniform in the cube [-bound, bound]^3."""
    return rng.uniform(-bound, bound, size=(n, 3))


def mesh_metrics(pred, gt, n_points=30000, taus=(0.01, 0.02), rng=None):
    """Chamfer-L1/L2, F-score at each tau, normal consistency and the topology of `pred` against `gt`.

    An empty pred (no faces or no area) scores the worst value of each metric, with empty=True.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    topo = topology(pred)
    out = dict(components=topo["components"], components_filtered=topo["components_filtered"],
               closed_manifold=topo["closed_manifold"], genus=total_genus(topo))
    if len(pred.faces) == 0 or not pred.area > 0:
        out.update(chamfer_l1=float(WORST_CHAMFER), chamfer_l2=float(WORST_CHAMFER ** 2),
                   normal_consistency=0.0, empty=True)
        out.update({f"fscore_{t}": 0.0 for t in taus})
        return out
    p, n_p = sample_surface(pred, n_points, rng)
    q, n_q = sample_surface(gt, n_points, rng)
    l1, l2 = chamfer(p, q)
    out.update(chamfer_l1=float(l1), chamfer_l2=float(l2),
               normal_consistency=normal_consistency(p, n_p, q, n_q), empty=False)
    out.update({f"fscore_{t}": fscore(p, q, t) for t in taus})
    return out
