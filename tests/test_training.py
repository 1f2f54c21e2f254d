"""Training on tiny problems reaches real floors: a loss that falls, a PSNR, a surface error."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import trimesh

from hypershape.geometry.marching import mesh_from_sdf
from hypershape.geometry.metrics import surface_error, touches_domain
from hypershape.geometry.sdf import enclosing_radius, sample_sdf
from hypershape.nets.siren import SirenSpec, pixel_grid, psnr, siren_field, siren_forward
from hypershape.render import render_views
from hypershape.runtime import Numerics, TrainingDiverged
from hypershape.stages.weight_ae import sphere_batch
from hypershape.training import fit_flat, fit_sdf, sdf_l1, step_lr, train


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
    # every target starts from this field: it must be the sphere's out to the corners of the cube 90 meshes
    walls = cube_surface_grid(9)
    assert siren_field(spec, flat[0], "cpu")(walls).min() > 0.25  # the sphere's SDF there is >= 0.5


def cube_surface_grid(n: int) -> np.ndarray:
    """The points of an n^3 grid over [-1, 1]^3 that lie on the cube's faces, edges and corners."""
    g = np.linspace(-1, 1, n)
    points = np.stack(np.meshgrid(g, g, g), -1).reshape(-1, 3)
    return points[np.abs(points).max(1) == 1].astype(np.float32)


def fit_torus_target(cube_points: int):
    """A small shape-SIREN fitted from a random init to a torus's SDF samples, none of them beyond the unit
    ball (so the cube's corners are left to the cube term alone), and the torus."""
    mesh = trimesh.creation.torus(0.55, 0.2)
    s = sample_sdf(mesh, 20_000, 3000, 1000, 30.0, np.random.default_rng(0), n_uniform=0)
    spec = SirenSpec(3, 32, 3, 1)
    c = SimpleNamespace(batch_points=1024, cube_points=cube_points, steps=150, lr=1e-3)
    flat, _ = fit_sdf(
        spec,
        spec.init(torch.Generator().manual_seed(3))[None],
        [(torch.from_numpy(s["points"]), torch.from_numpy(s["sdf"]))],
        [enclosing_radius(mesh)],
        [torch.Generator().manual_seed(2)],
        c,
        1.0,
        "t",
        Numerics(torch.device("cpu")),
    )
    return siren_field(spec, flat[0], "cpu"), mesh


@pytest.mark.parametrize("cube_points", [0, 256])
def test_cube_term_keeps_the_field_positive_at_the_cube_edge(cube_points):
    f, torus = fit_torus_target(cube_points)
    walls = cube_surface_grid(17)
    mesh = mesh_from_sdf(f, 32, 1.0)
    assert surface_error(f, torus.sample(2000)) < 0.02  # a fit of the torus either way
    if cube_points:  # no surface beyond the torus, which ends at radius 0.75
        assert f(walls).min() > 0
        assert touches_domain(mesh, 0.8) == 0
    else:  # the same fit without the term: the field dips below zero at the cube's edge and grows surface
        assert f(walls).min() < 0
        assert touches_domain(mesh, 0.8) > 0.1


def test_nan_loss_raises_training_diverged():
    p = torch.zeros(3, requires_grad=True)
    with pytest.raises(TrainingDiverged, match="not finite at step 2"):
        train([p], lambda s: p.sum() * (float("nan") if s == 2 else 1.0), 5, 1e-3, desc="t")


def test_a_shared_networks_bar_reaches_a_log_file_and_a_per_object_fits_does_not(capsys):
    """Under pytest stderr is not a terminal, as when a run's output goes to a log file: a shared network's
    fit (minutes to hours, its stage's only work) must still show how far it is; a per-object fit must
    not, so that the log holds the stage's per-object bar alone."""
    p = torch.zeros(3, requires_grad=True)
    train([p], lambda s: (p**2).sum(), 3, 1e-3, desc="per-object fit")
    train([p], lambda s: (p**2).sum(), 3, 1e-3, desc="shared fit", shared=True)
    err = capsys.readouterr().err
    assert "shared fit" in err and "3/3" in err
    assert "per-object fit" not in err


def test_the_package_flushes_subnormal_floats_on_every_torch_thread():
    """Importing the package's runtime flushes subnormals to zero (softplus(beta=100) makes them, and the
    CPU computes them many times slower): a product of subnormals, computed on two threads over a tensor
    large enough to be split between them, is zero everywhere. Torch alone keeps them."""
    code = (
        "import sys, torch\n"
        "if sys.argv[1] == 'package': import hypershape.runtime\n"
        "torch.set_num_threads(2)\n"
        "x = torch.full((1 << 20,), 1e-39) * 1.0\n"
        "print(int((x == 0).sum()))\n"
    )
    zeros = {
        how: int(subprocess.run([sys.executable, "-c", code, how], capture_output=True, text=True, check=True).stdout)
        for how in ("torch", "package")
    }
    assert zeros == {"torch": 0, "package": 1 << 20}


def test_lr_end_moves_the_weights_by_the_cosine_rates_in_every_param_group():
    # A constant gradient makes each Adam step exactly its learning rate (m/sqrt(v) = 1 from the first
    # step), so the weights' steps read the rates the schedule set.
    a, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    seen = []

    def loss(step):
        seen.append((a.item(), b.item()))
        return a.sum() + b.sum()

    groups = [dict(params=[a], lr=1e-2), dict(params=[b], lr=1e-3)]
    train(groups, loss, 6, 1e-2, lr_end=1e-4)
    seen.append((a.item(), b.item()))
    moves = -np.diff(np.array(seen), axis=0)  # [steps, groups]
    wanted = np.array([step_lr(s, 6, 1e-2, 1e-4) for s in range(6)])
    np.testing.assert_allclose(moves[:, 0], wanted, rtol=1e-4)
    np.testing.assert_allclose(moves[:, 1], wanted / 10, rtol=1e-4)  # b's own rate, scaled alike
    assert wanted[0] == pytest.approx(1e-2) and wanted[-1] == pytest.approx(1e-4)
    assert np.all(np.diff(wanted) < 0)


def test_without_lr_end_every_step_moves_by_lr():
    a = torch.zeros(1, requires_grad=True)
    seen = []
    train([a], lambda step: seen.append(a.item()) or a.sum(), 4, 1e-2)
    seen.append(a.item())
    np.testing.assert_allclose(-np.diff(seen), 1e-2, rtol=1e-4)
