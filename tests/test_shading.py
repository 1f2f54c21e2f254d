"""The shading term of 80's refinement: the brightness model calibrated on the renderer predicts another
mesh's pixels from their normals (and not with the light on the wrong side), its gradient through the
implicit hit and the normals moves a field towards the pictured shape, with no weight on it
refinement is exactly what it was, and the views agree best with the shape they show."""

import copy

import numpy as np
import pytest
import torch
import trimesh
from conftest import make_cfg

from hypershape.config import RefineConfig, RenderConfig
from hypershape.render import LIGHT_IN_CAMERA, render_like, sphere_interval
from hypershape.routes.base import Field
from hypershape.shading import (
    brightness_model,
    covered_pixels,
    fit,
    implicit_hit,
    interior_pixels,
    non_decreasing,
    ray_shading,
    shading_residuals,
)
from hypershape.stages.common import load_views
from hypershape.stages.shape_sirens import (
    accepted,
    outline_loss,
    ray_values,
    refine,
    refine_if_better,
    refinement_record,
    view_agreement,
    view_rays,
)

RENDER = RenderConfig(resolution=32)
CENTRE = (0.12, -0.08, 0.1)
RADIUS = 0.5
PIXEL = float(2 * RENDER.distance * np.tan(np.radians(RENDER.yfov_deg) / 2) / RENDER.resolution)
"""A pixel's width at the origin's distance from the camera."""


class SphereField(Field):
    """The SDF of a sphere whose centre and radius are the parameters [cx, cy, cz, r]."""

    def sdf(self, params, points):
        return ((points - params[:3]).norm(dim=-1) - params[3])[:, None]


@pytest.fixture(scope="module")
def sphere_views(tmp_path_factory):
    """03's views of a sphere of RADIUS at CENTRE (written and read back as 80 reads them), no depth."""
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=RADIUS)
    mesh.apply_translation(CENTRE)
    path = tmp_path_factory.mktemp("shading") / "views.npz"
    np.savez(path, **render_like(mesh, RENDER))
    return {k: v for k, v in load_views(path).items() if k != "depth"}


def torus_normals(points, major):
    """Unit normals of the torus about the z axis with major radius `major` at points on it."""
    ring = points * np.array([1.0, 1.0, 0.0])
    ring = major * ring / np.linalg.norm(ring, axis=1, keepdims=True)
    out = points - ring
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_the_calibrated_model_predicts_another_meshs_pixels_from_their_normals():
    model = brightness_model(RENDER)
    assert all(b >= a for a, b in zip(model.values, model.values[1:]))
    torus = trimesh.creation.torus(major_radius=0.5, minor_radius=0.25, major_sections=96, minor_sections=48)
    drawn = render_like(torus, RENDER)
    # the key light turned half way round each camera's axis: as high above the view, on the wrong side
    turned = LIGHT_IN_CAMERA[:3, 2] * np.array([-1.0, -1.0, 1.0])

    def error(lights=None):
        points, light, brightness = covered_pixels(drawn, lights)
        cos = torch.from_numpy((torus_normals(points, 0.5) * light).sum(1)).float()
        return float((model(cos) - torch.from_numpy(brightness)).abs().median()), len(points)

    right, pixels = error()
    wrong, _ = error(drawn["cam_to_world"][:, :3, :3].astype(np.float64) @ turned)
    assert pixels > 2000 and right < 0.005
    assert wrong > 0.1


def test_fit_recovers_a_monotone_piecewise_linear_function_and_pools_a_dip():
    cos = np.linspace(-0.3, 1.0, 2000)
    truth = 0.4 + 0.5 * np.clip(cos, 0, None)  # flat below 0, where a light adds nothing
    values = np.asarray(fit(cos, truth).values)
    knots = np.linspace(-1, 1, len(values))
    np.testing.assert_allclose(values, 0.4 + 0.5 * np.clip(knots, 0, None), atol=1e-6)
    np.testing.assert_allclose(non_decreasing(np.array([1.0, 3.0, 2.0, 4.0]), np.ones(4)), [1, 2.5, 2.5, 4])


def test_the_shading_term_alone_moves_a_sphere_towards_the_pictured_one(sphere_views):
    field, shading = SphereField(), ray_shading(sphere_views, brightness_model(RENDER), 1)
    o, d, near, far, _, _ = view_rays(sphere_views)
    full = shading.reads
    o, d, near, far, shading = o[full], d[full], near[full], far[full], shading.take(full)
    params = torch.tensor([0.0, 0.0, 0.0, RADIUS], requires_grad=True)
    opt = torch.optim.Adam([params], lr=0.01)
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):
        idx = torch.randint(len(o), (256,), generator=gen)
        t, values = ray_values(lambda x: field.sdf(params, x), o[idx], d[idx], near[idx], far[idx], 32, gen)
        errors = shading_residuals(field, params, o[idx], d[idx], t, values, shading.take(idx), True)
        opt.zero_grad()
        errors.mean().backward()
        opt.step()
    params = params.detach()
    assert float((params[:3] - torch.tensor(CENTRE)).norm()) < 0.2 * float(torch.tensor(CENTRE).norm())
    assert abs(float(params[3]) - RADIUS) < 0.02


def test_the_implicit_hit_moves_with_the_surface_as_the_exact_intersection_does():
    """d(hit point)/d(centre, radius) by autograd through implicit_hit against finite differences of the
    exact ray-sphere intersection."""
    o, d = torch.tensor([[0.1, 0.2, 3.0]], dtype=torch.float64), torch.tensor([[0.0, 0.0, -1.0]], dtype=torch.float64)

    def exact(params):
        t_near, _ = sphere_interval(o - params[:3], d, float(params[3]))
        return o + t_near[:, None] * d

    params = torch.tensor([0.05, -0.1, 0.2, 0.6], dtype=torch.float64, requires_grad=True)
    t0 = sphere_interval(o - params[:3].detach(), d, 0.6)[0]
    x, steep = implicit_hit(SphereField(), params, o, d, t0)
    assert bool(steep[0]) and torch.allclose(x, exact(params.detach()))
    analytic = torch.stack([torch.autograd.grad(x[0, k], params, retain_graph=True)[0] for k in range(3)])
    step = 1e-6
    numeric = torch.stack(
        [
            (exact(params.detach() + step * e) - exact(params.detach() - step * e))[0] / (2 * step)
            for e in torch.eye(4, dtype=torch.float64)
        ],
        dim=1,
    )
    torch.testing.assert_close(analytic, numeric, atol=1e-6, rtol=1e-5)


def test_no_shading_weight_leaves_refinement_bitwise_as_it_was(sphere_views):
    field, shading = SphereField(), ray_shading(sphere_views, brightness_model(RENDER), 1)
    rays = view_rays(sphere_views)
    start = torch.tensor([0.0, 0.0, 0.0, 0.45])
    r = RefineConfig(steps=5, rays=64, samples_per_ray=8, lr=1e-2)

    def refined(r, shading):
        return refine(field, start, rays, r, torch.Generator().manual_seed(3), None, shading)[0]

    before = refined(r, None)
    assert torch.equal(refined(r, shading), before)
    shaded = copy.deepcopy(r)
    shaded.shading_weight = 1.0
    assert not torch.equal(refined(shaded, shading), before)
    plain = view_agreement(field, start, rays, 8, 4096)
    measured = view_agreement(field, start, rays, 8, 4096, shading=shading)
    assert set(plain) == {"silhouette_iou"} and measured["silhouette_iou"] == plain["silhouette_iou"]
    assert 0 < measured["shading_error"] < 0.5


def test_a_refinement_whose_shading_worsens_beyond_the_slack_is_not_kept():
    before, slack = dict(silhouette_iou=0.8, shading_error=0.05), RefineConfig().shading_slack
    assert accepted(before, dict(silhouette_iou=0.8, shading_error=0.04), None, slack)  # shading better
    assert accepted(before, dict(silhouette_iou=0.9, shading_error=0.05 + slack / 2), None, slack)
    assert not accepted(before, dict(silhouette_iou=0.9, shading_error=0.05 + 2 * slack), None, slack)
    assert not accepted(before, dict(silhouette_iou=0.79, shading_error=0.04), None, slack)  # outlines worse
    assert not accepted(before, dict(silhouette_iou=0.8, shading_error=0.05), None, slack)  # nothing better
    assert accepted(before, dict(silhouette_iou=0.9, shading_error=0.06), None)  # shading not read


def test_a_refused_refinement_records_what_the_gate_saw(sphere_views):
    """Started from the pictured sphere, a refinement with a step far too large can only agree worse: it is
    refused, 90 gets the prediction, and the record keeps the worse agreement it tried."""
    cfg = make_cfg("shape_siren.refine.steps=10", "shape_siren.refine.rays=64", "shape_siren.refine.lr=0.05")
    cfg.shape_siren.refine.samples_per_ray, cfg.shape_siren.refine.eval_rays = 16, 4096
    truth = torch.tensor([*CENTRE, RADIUS])
    rays = view_rays(sphere_views)
    refined, done, _ = refine_if_better(cfg, SphereField(), truth, rays, torch.Generator().manual_seed(0), None)
    assert not done["accepted"] and torch.equal(refined, truth)
    record = refinement_record("refine", "refined", done)
    assert record["silhouette_iou_refined"] == record["silhouette_iou_predicted"] > 0.99
    assert record["silhouette_iou_refined_tried"] < record["silhouette_iou_predicted"] - 0.01


def test_the_views_agree_best_with_the_sphere_they_show(sphere_views):
    """The gate's silhouette IoU peaks at the pictured sphere, not at one a quarter pixel larger: pixels half
    covered (4x MSAA) are no evidence either way (counted as covered, they favoured the dilated sphere)."""
    rays = view_rays(sphere_views)

    def iou(grow):
        params = torch.tensor([*CENTRE, RADIUS + grow * PIXEL])
        return view_agreement(SphereField(), params, rays, 64, len(rays[0]))["silhouette_iou"]

    assert iou(0.0) > 0.99
    assert iou(0.0) > iou(0.25) and iou(0.0) > iou(-0.25)


def test_the_hinge_outline_loss_is_zero_only_for_the_pictured_sphere(sphere_views):
    """outline_loss="hinge" leaves the shape the pictures show where it is (no ray pulls it), and pulls a
    sphere a pixel too large or too small; the BCE pulls even the pictured one."""
    o, d, near, far, mask, _ = view_rays(sphere_views)

    def loss(kind, grow):
        params = torch.tensor([*CENTRE, RADIUS + grow * PIXEL])
        values = ray_values(lambda x: SphereField().sdf(params, x), o, d, near, far, 64)[1]
        return float(outline_loss(values.min(dim=1).values, mask, RefineConfig(outline_loss=kind)))

    assert loss("hinge", 0.0) < 1e-6 < loss("hinge", 1.0) and loss("hinge", -1.0) > 1e-6
    assert loss("bce", 0.0) > 1e-3


def test_the_shading_term_reads_covered_pixels_away_from_the_outline():
    """A 5x5 covered square with a half-covered pixel on its edge: margin 0 reads the 24 fully covered
    pixels, margin 1 only those whose eight neighbours are fully covered too (the 3x3 core less the three next
    to the half-covered one); beyond the picture's edge counts as covered."""
    mask = torch.zeros(1, 9, 9)
    mask[0, 2:7, 2:7] = 1.0
    mask[0, 2, 4] = 0.5
    assert int(interior_pixels(mask, 0).sum()) == 24
    core = interior_pixels(mask, 1)[0]
    assert int(core.sum()) == 6 and not core[3, 3] and not core[3, 5] and core[4, 4] and core[5, 5]
    assert bool(interior_pixels(torch.ones(1, 4, 4), 1).all())


def test_the_interior_shading_error_is_least_at_the_pictured_sphere(sphere_views):
    """Over the pixels the term reads, the mean shading error of the pictured sphere is below that of one a
    half pixel larger or smaller (64 samples a ray); read on partly covered pixels too, it is not."""
    shading = ray_shading(sphere_views, brightness_model(RENDER), 1)
    o, d, near, far, _, _ = view_rays(sphere_views)
    on = shading.reads

    def error(grow):
        params = torch.tensor([*CENTRE, RADIUS + grow * PIXEL])
        t, values = ray_values(lambda x: SphereField().sdf(params, x), o[on], d[on], near[on], far[on], 64)
        return float(shading_residuals(SphereField(), params, o[on], d[on], t, values, shading.take(on), False).mean())

    assert error(0.0) < min(error(0.5), error(-0.5))
