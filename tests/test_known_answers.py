"""Known answers: the silhouette 80 refines against, of a sphere seen from the configured camera, is the
disc the pinhole model predicts; and after a change, a rerun redoes exactly the stages the change reaches."""

import numpy as np
import pytest
import torch
from conftest import copy_run, make_cfg

import hypershape.runtime
from hypershape.paths import SCRIPTS, STAGE_DIRS
from hypershape.pipeline import run_all
from hypershape.render import camera_rays, intrinsics, look_at, sphere_interval
from hypershape.stages.shape_sirens import field_silhouette, ray_least, ray_values


@pytest.mark.parametrize("radius", [0.3, 0.6])
def test_silhouette_of_a_sphere_is_the_disc_of_its_angular_radius(radius):
    render = make_cfg().render  # the configured field of view and camera distance
    res, dist = 128, render.distance
    K = intrinsics(res, render.yfov_deg)
    o, d = camera_rays(K, look_at(dist * np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])), res)
    o, d = torch.from_numpy(o).reshape(-1, 3), torch.from_numpy(d).reshape(-1, 3)
    near, far = sphere_interval(o, d, 1.0)
    sphere = lambda x: x.norm(dim=-1) - radius  # noqa: E731  (the exact SDF, no SIREN in between)
    hard = field_silhouette(sphere, o, d, near, far, 256, 1e-6).reshape(res, res) > 0.5
    # a ray is inside iff its angle to the optical axis is under asin(R / d): r_px = f tan(asin(R / d))
    r_px = K[0, 0] * np.tan(np.arcsin(radius / dist))
    c = np.arange(res) + 0.5 - res / 2
    rho = np.hypot(*np.meshgrid(c, c, indexing="xy"))
    assert hard[rho < r_px - 0.5].all() and not hard[rho > r_px + 0.5].any()  # a centred disc, to a pixel
    assert abs(hard.sum().item() / (np.pi * r_px**2) - 1) < 0.02  # its area, within 2 %
    # the soft silhouette is 1/2 where a ray grazes the sphere, above inside, below outside
    soft = field_silhouette(sphere, o, d, near, far, 256, 0.05).reshape(res, res)
    assert soft[rho < 0.5 * r_px].min() > 0.5 > soft[rho > 1.5 * r_px].max()


def test_the_search_along_a_ray_finds_a_plate_thinner_than_the_samples_step_over():
    """ray_least: a plate 0.01 thick seen edge-on is missed by 32 samples a ray (their spacing is about 0.06)
    and found by two rounds of search about the least sample, at its true least value, with the gradient of
    the field there."""
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(200, 2, generator=gen) - 0.5
    o = torch.cat([xy, torch.full((200, 1), 3.0)], dim=1)
    d = torch.tensor([[0.0, 0.0, -1.0]]).expand(200, 3)
    near, far = sphere_interval(o, d, 1.0)
    half = torch.tensor(0.005, requires_grad=True)
    plate = lambda x: x[:, 2].abs() - half  # noqa: E731  (its least value along every ray is -half)
    t, values = ray_values(plate, o, d, near, far, 32)
    assert (ray_least(plate, o, d, near, far, t, values, 0) > 0).float().mean() > 0.5
    least = ray_least(plate, o, d, near, far, t, values, 2)
    torch.testing.assert_close(least, torch.full((200,), -0.005), atol=1e-3, rtol=0)
    (grad,) = torch.autograd.grad(least.sum(), half)
    assert float(grad) == -200.0


def redone(results) -> dict[str, int]:
    return {s: results[SCRIPTS[s]]["done"] for s in STAGE_DIRS}


def expect(redo: set[str], n: int) -> dict[str, int]:
    return {s: n if s in redo else 0 for s in STAGE_DIRS}


@pytest.mark.slow
def test_a_change_redoes_exactly_the_stages_it_reaches(tiny_run, tmp_path, monkeypatch):
    made, first = tiny_run  # the counts of a run made from nothing; the changes below go to a copy of it
    copy_run(made, tmp_path)
    base = ("preset=tiny", f"data_dir={tmp_path}")
    n = first["01_download"]["done"]
    assert n == 4 and redone(first) == expect(set(STAGE_DIRS), n)
    # a 02 field: every stage from 02 on, for every object
    assert redone(run_all(make_cfg(*base, "data.beta=31"))) == expect(set(STAGE_DIRS[1:]), n)
    # the hypernetwork: 50 and what reads it (70 mapper, 80, 90); 60 reads only 02
    assert redone(run_all(make_cfg(*base, "data.beta=31", "hypernet.steps=21"))) == expect(
        {"50_hypernets", "70_mapper", "80_shape_sirens", "90_reconstruct"}, n
    )
    # a speed knob of 90: nothing
    assert redone(
        run_all(make_cfg(*base, "data.beta=31", "hypernet.steps=21", "reconstruct.picture_objects=1"))
    ) == expect(set(), n)
    # the code 40 imports, edited: 40 and everything below it but 60
    real = hypershape.runtime.stage_code
    monkeypatch.setattr(
        hypershape.runtime, "stage_code", lambda stage: "edited" if stage == "40_image_sirens" else real(stage)
    )
    assert redone(run_all(make_cfg(*base, "data.beta=31", "hypernet.steps=21"))) == expect(
        {"40_image_sirens", "50_hypernets", "70_mapper", "80_shape_sirens", "90_reconstruct"}, n
    )
