"""Training on tiny problems reaches real floors: a loss that falls, a PSNR, a surface error."""

import pytest
import torch
import trimesh

from hypershape.geometry.metrics import surface_error
from hypershape.nets.siren import SirenSpec, pixel_grid, psnr, siren_field, siren_forward
from hypershape.render import render_views
from hypershape.runtime import TrainingDiverged
from hypershape.stages.weight_ae import sphere_batch
from hypershape.training import fit_flat, sdf_l1, train


def test_image_siren_fits_a_rendered_view_above_a_psnr_floor():
    rgba = render_views(trimesh.creation.torus(0.6, 0.25), 32, 40.0, 3.0)["rgba"][3]
    img = torch.from_numpy(rgba).float() / 255
    target = (img[..., :3] * img[..., 3:]).reshape(1, -1, 3)
    spec = SirenSpec(2, 64, 3, 3)
    coords = pixel_grid(32)
    flat, curve = fit_flat(
        spec.init(torch.Generator().manual_seed(0))[None],
        lambda f, s: ((siren_forward(spec, f, coords) - target) ** 2).mean((1, 2)),
        300,
        1e-3,
        "t",
    )
    assert curve[-1] < 0.05 * curve[0]
    assert float(psnr(siren_forward(spec, flat, coords), target)) > 30.0


def test_shape_siren_fits_a_sphere_sdf():
    spec = SirenSpec(3, 32, 3, 1)
    gen = torch.Generator().manual_seed(0)

    def loss(f, s):
        x, y = sphere_batch(4096, 0.5, gen)
        return sdf_l1(spec, f, x[None], y[None])

    flat, curve = fit_flat(spec.init(torch.Generator().manual_seed(1))[None], loss, 400, 1e-3, "t")
    assert curve[-1] < 0.1 * curve[0]
    dirs = torch.nn.functional.normalize(torch.randn(2000, 3), dim=-1)
    assert surface_error(siren_field(spec, flat[0], "cpu"), (0.5 * dirs).numpy()) < 0.01
    inside = siren_forward(spec, flat[0], torch.zeros(1, 3))[0, 0]
    assert -0.6 < float(inside) < -0.3  # SDF of a sphere at its centre: −r (few samples that deep)


def test_nan_loss_raises_training_diverged():
    p = torch.zeros(3, requires_grad=True)
    with pytest.raises(TrainingDiverged, match="not finite at step 2"):
        train([p], lambda s: p.sum() * (float("nan") if s == 2 else 1.0), 5, 1e-3, desc="t")
