"""Retrieval: the target shape-SIREN of the training object nearest in some input space (a route's features
in mapper.pt). A candidate of route hybrid and the baseline every readout table carries; beside it the
oracle nearest neighbour, the training object nearest to the held-out object's own ground truth."""

from __future__ import annotations

import torch
import trimesh

from ..geometry.metrics import fscore_of, mesh_metrics, nearest
from ..geometry.sdf import sample_surface, signed_distance
from ..metrics import Scored, compute, headline
from ..routes.base import Predictor
from ..runtime import load_torch


def nearest_train(features: dict, train_ids: list[str], obj_id: str, include_self: bool = False) -> str:
    """The train object whose features (e.g. hypernetwork sketch) are nearest to obj_id's; obj_id itself
    only with include_self (a lookup over the training set returns a training object's own entry)."""
    cands = [i for i in train_ids if include_self or i != obj_id]
    x = features[obj_id]
    d = torch.stack([(features[i] - x).norm() for i in cands])
    return cands[int(d.argmin())]


class RetrievalPredictor(Predictor):
    """The target shape-SIREN of the training object nearest in the input space of the route whose 70 wrote
    mapper.pt, the object itself included: a lookup over the training set. Records its id, and memory where
    it is the object itself. The targets are those of the run the mapper learnt from, `trained` (a
    readout_from run's: readout_paths), default `paths`' own."""

    def __init__(self, paths, device, trained=None):
        ckpt = load_torch(paths.mapper)
        self.features, self.train_ids = ckpt["features"], ckpt["train_ids"]
        self.trained, self.device = trained or paths, device

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        nn = nearest_train(self.features, self.train_ids, obj_id, include_self=True)
        return load_torch(self.trained.target(nn))["flat"].to(self.device), dict(retrieved=nn, memory=nn == obj_id)


def oracle_nearest(
    truth: dict, candidates: dict[str, trimesh.Trimesh], rc, gen_of, known: dict[str, float] | None = None
) -> tuple[str, dict]:
    """The candidate (a training object's ground-truth solid) whose surface scores best on the headline
    F-score against `truth` (stages.reconstruct.truth_of), and its metrics: what a retrieval that sees the
    held-out shape itself would find, the ceiling of retrieving those candidates' ground truths (a retrieval
    returning a candidate's fitted target can read a little above it). gen_of(id) draws a candidate's
    surface points. Every registered metric is computed as 90 computes it, with the candidate's
    exact signed distance as its field (IoU: its winding number at truth's IoU points). `known`: headline
    F-scores by candidate id against this same truth with the same draws, reused and added to, so that a caller
    searching nested candidate sets (the learning curve's sizes) scores each candidate once."""
    tau = headline(rc.taus).tau
    known = {} if known is None else known

    def fscore(i: str) -> float:  # the headline alone picks; the other metrics are the winner's only
        if i not in known:
            points, _ = sample_surface(candidates[i], rc.n_points, gen_of(i))
            d_pq, _, d_qp, _ = nearest(points, truth["sample"][0])
            known[i] = fscore_of(d_pq, d_qp, tau)
        return known[i]

    best = max(sorted(candidates), key=fscore)  # ties: the first id
    mesh = candidates[best]
    m = mesh_metrics(mesh, truth["mesh"], rc.n_points, tuple(rc.taus), gen_of(best), truth["sample"])
    m.update(compute(Scored(field=lambda q: signed_distance(mesh, q), mesh=mesh, truth=truth, rc=rc, measured=m)))
    return best, m
