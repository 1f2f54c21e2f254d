"""Stage 90 scores a field as fitted: known answers for analytic fields against a 0.5 sphere (no pipeline run)."""

import numpy as np
import pytest
import torch
import trimesh

from hypershape.config import ReconstructConfig
from hypershape.experiments.refinement import outward
from hypershape.experiments.report import conventions
from hypershape.geometry import metrics
from hypershape.geometry.metrics import WORST_CHAMFER, sampling_floor
from hypershape.geometry.sdf import sample_surface
from hypershape.geometry.topology import genus_match
from hypershape.nets.siren import SirenSpec, siren_field
from hypershape.stages import weight_ae
from hypershape.stages.reconstruct import metric_columns, score_field, summarise, table, truth_of

GT_RADIUS = 0.5
# Share of the cube [-1, 1]^3 inside the ground-truth ball: what a field negative everywhere honestly scores.
GT_CUBE_SHARE = 4 / 3 * np.pi * GT_RADIUS**3 / 8


def rc_of(**kw):
    return ReconstructConfig(**{"resolution": 64, "n_points": 20_000, "iou_points": 20_000, **kw})


@pytest.fixture(scope="module")
def truth():
    gt = trimesh.creation.icosphere(subdivisions=4, radius=GT_RADIUS)
    surface, _ = sample_surface(gt, 5000, np.random.default_rng(1))
    return truth_of(gt, [0], surface, rc_of(), np.random.default_rng(2))


def radius(p):
    return np.linalg.norm(p, axis=1)


def score(f, truth, **kw):
    return score_field(f, truth, rc_of(**kw), np.random.default_rng(3))


def test_sphere_field_scores_as_the_sphere(truth):
    m, mesh = score(lambda p: radius(p) - GT_RADIUS, truth)
    assert not m["empty"] and m["closed_manifold"] and m["components"] == 1 and m["genus"] == [0]
    assert m["iou"] > 0.97 and m["fscore_0.02"] > 0.97 and m["chamfer_l1"] < 0.01
    assert m["genus_match"] and m["touches_domain"] == 0.0
    assert m["surface_error"] < 2e-3


def test_negative_everywhere_field_is_empty_and_scores_the_worst(truth):
    m, mesh = score(lambda p: np.full(len(p), -1.0), truth)
    assert m["empty"] and len(mesh.faces) == 0
    assert m["chamfer_l1"] == WORST_CHAMFER and m["fscore_0.01"] == 0 and m["fscore_0.02"] == 0
    assert not m["closed_manifold"] and not m["genus_match"] and m["touches_domain"] == 1.0
    # inside everywhere: intersection = the ground truth, union = the whole cube
    assert m["iou"] == pytest.approx(truth["inside"].mean()) and m["iou"] == pytest.approx(GT_CUBE_SHARE, abs=0.01)
    assert m["surface_error"] == pytest.approx(1.0)


def test_siren_field_is_the_network_unclipped(truth):
    spec = SirenSpec(3, 8, 2, 1)
    flat = torch.zeros(spec.numel)
    spec.unflatten(flat)[-1][:] = -1.0  # zero weights, output bias -1: a SIREN negative everywhere
    f = siren_field(spec, flat, "cpu")
    assert np.allclose(f(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], np.float32)), -1.0)
    m, _ = score(f, truth)
    assert m["empty"] and m["iou"] == pytest.approx(truth["inside"].mean())


def test_surface_error_is_mean_abs_field_on_the_surface_one_definition(truth):
    assert weight_ae.surface_error is metrics.surface_error  # 60 and 90 share it
    m, _ = score(lambda p: radius(p) - GT_RADIUS + 0.1, truth)
    assert m["surface_error"] == pytest.approx(0.1, abs=1e-3)
    # a field far below zero off the object: |f| on the surface as fitted, not as a clip would make it
    m, _ = score(lambda p: radius(p) - 1.5, truth)
    assert m["surface_error"] == pytest.approx(1.0, abs=1e-3)


def test_touches_domain_of_a_surface_at_the_domain_boundary(truth):
    m, _ = score(lambda p: radius(p) - 0.99, truth)
    assert m["touches_domain"] == pytest.approx(1.0)
    # the plane x = 0 across the cube: share of the square [-1, 1]^2 outside the disk of radius 0.97
    m, _ = score(lambda p: p[:, 0].astype(np.float64), truth)
    assert m["touches_domain"] == pytest.approx(1 - np.pi * 0.97**2 / 4, abs=0.02)
    assert not m["closed_manifold"] and not m["genus_match"]


def test_two_genus0_blobs_do_not_match_one_genus0_ball(truth):
    centres = np.array([[-0.45, 0, 0], [0.45, 0, 0]])
    m, _ = score(lambda p: np.min([radius(p - c) - 0.3 for c in centres], axis=0), truth)
    assert m["components_filtered"] == 2 and m["genus"] == [0, 0] and m["closed_manifold"]
    assert not m["genus_match"]
    assert genus_match([1, 0], [0, 1]) and not genus_match([0, 0], [0])
    assert not genus_match([None], [None]) and not genus_match([], [])


def test_taus_set_the_fscore_columns_and_the_table(truth):
    taus = [0.005, 0.05]
    columns = metric_columns(taus)
    assert "fscore_0.005" in columns and "fscore_0.05" in columns and "fscore_0.01" not in columns
    m, _ = score(lambda p: radius(p) - GT_RADIUS, truth, taus=taus)
    assert m["fscore_0.05"] == 1.0 and m["fscore_0.005"] < m["fscore_0.05"]
    rows = [dict(split="test", kind="target", **m)]
    summary = summarise(rows, columns)
    assert summary[0]["median_fscore_0.005"] == m["fscore_0.005"]
    assert summary[0]["median_touches_domain"] == 0.0
    text = table(summary, taus, "p", "latent", 0)
    head = text.splitlines()[2]
    assert "F@0.005" in head and "F@0.05" in head and "F@0.01" not in head
    assert "| 1.000 |" in text.splitlines()[-1]


def test_sampling_floor_is_computed_and_quoted():
    rc = rc_of(n_points=5000, taus=[0.01, 0.2])
    floor = sampling_floor(rc, np.random.default_rng(0))
    assert floor["fscore_0.2"] == 1.0 and 0 < floor["fscore_0.01"] < 1
    # nearest-neighbour gaps scale as 1/sqrt(n): four times the points halve the floor
    finer = sampling_floor(rc_of(n_points=20_000, taus=[0.01, 0.2]), np.random.default_rng(0))
    assert finer["chamfer_l1"] / floor["chamfer_l1"] == pytest.approx(0.5, abs=0.05)
    text = conventions(rc, floor)
    assert f"{floor['chamfer_l1']:.4f}" in text and f"{floor['fscore_0.01']:.3f}" in text and "5,000 points" in text


def test_outward_is_how_far_a_surface_lies_outside_the_truth():
    """experiments.refinement.outward: a sphere 0.02 larger lies +0.02 outside, one 0.02 smaller −0.02."""
    solid = trimesh.creation.icosphere(subdivisions=5, radius=0.5)
    for grow in (0.02, -0.02):
        bigger = trimesh.creation.icosphere(subdivisions=5, radius=0.5 + grow)
        assert outward(bigger, solid, np.random.default_rng(0)) == pytest.approx(grow, abs=1e-3)
