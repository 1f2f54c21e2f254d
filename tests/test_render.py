import subprocess
import sys

import igl
import numpy as np
import pytest
import trimesh

from hypershape import render

RES, YFOV, DIST = 64, 40.0, 2.5


@pytest.fixture(scope="module")
def sphere_views():
    return render.render_views(trimesh.creation.icosphere(subdivisions=4, radius=0.5), RES, YFOV, DIST)


@pytest.fixture(scope="module")
def torus():
    return trimesh.creation.torus(0.6, 0.2)


@pytest.fixture(scope="module")
def torus_views(torus):
    return render.render_views(torus, RES, YFOV, DIST)


def test_import_is_lazy():
    code = "import sys, hypershape.render; assert 'pyrender' not in sys.modules and 'OpenGL' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_camera_directions():
    d = render.camera_directions()
    assert d.shape == (24, 3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
    elev = np.degrees(np.arcsin(d[:, 2]))
    for k, e in enumerate((45.0, 0.0, -45.0)):
        np.testing.assert_allclose(elev[8 * k : 8 * (k + 1)], e, atol=1e-9)
    azim = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 360
    ring0, ring1, ring2 = (np.sort(azim[8 * k : 8 * (k + 1)]) for k in range(3))
    np.testing.assert_allclose(np.diff(ring0), 45.0, atol=1e-9)
    assert np.abs(ring1[:, None] - ring0[None, :]).min() > 10.0
    assert np.abs(ring2[:, None] - ring1[None, :]).min() > 10.0


def test_look_at_is_a_rotation_looking_at_target():
    for eye in ([1.0, 2.0, 0.5], [0.0, 0.0, 3.0], [0.0, 0.0, -2.0]):
        pose = render.look_at(eye)
        r = pose[:3, :3]
        np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        np.testing.assert_allclose(-r[:, 2], -np.asarray(eye) / np.linalg.norm(eye), atol=1e-12)
    # Z up in the world shows as +Y up in the image.
    assert render.look_at([2.0, 0.0, 0.0])[2, 1] == pytest.approx(1.0)


def test_views_are_filled_discs_of_the_right_size(sphere_views):
    v = sphere_views
    assert v["rgba"].shape == (24, RES, RES, 4) and v["rgba"].dtype == np.uint8
    assert v["depth"].shape == (24, RES, RES) and v["depth"].dtype == np.float32
    assert v["K"].shape == (3, 3) and v["cam_to_world"].shape == (24, 4, 4) and v["directions"].shape == (24, 3)
    alpha = v["rgba"][..., 3].astype(np.float64) / 255.0
    f = v["K"][0, 0]
    half_angle = np.arcsin(0.5 / DIST)
    disc_area = np.pi * (f * np.tan(half_angle)) ** 2
    for a, rgba, depth in zip(alpha, v["rgba"], v["depth"]):
        assert 0.1 < (a > 0).mean() < 0.5
        assert a.sum() == pytest.approx(disc_area, rel=0.10)
        assert np.all(rgba[a == 0][:, :3] == 0)  # transparent black background
        assert np.all(depth[a == 0] == 0)
        hit = depth > 0
        assert DIST - 0.5 - 1e-3 < depth[hit].min() and depth[hit].max() < DIST
        # The disc is centred on the image centre.
        rows, cols = np.nonzero(a)
        w = a[rows, cols]
        assert np.average(rows + 0.5, weights=w) == pytest.approx(RES / 2, abs=0.5)
        assert np.average(cols + 0.5, weights=w) == pytest.approx(RES / 2, abs=0.5)


def test_rendering_is_deterministic(sphere_views):
    again = render.render_views(trimesh.creation.icosphere(subdivisions=4, radius=0.5), RES, YFOV, DIST)
    for key in sphere_views:
        assert sphere_views[key].tobytes() == again[key].tobytes(), key


def test_depth_points_lie_on_the_surface(torus, torus_views):
    v = torus_views
    points = render.depth_to_points(v["depth"], v["K"], v["cam_to_world"])
    assert len(points) == 24 and all(len(p) > 100 for p in points)
    p = np.concatenate(points).astype(np.float64)
    sq, _, _ = igl.point_mesh_squared_distance(p, torus.vertices, torus.faces)
    scale = np.linalg.norm(torus.extents)
    assert np.sqrt(sq).mean() < 0.01 * scale
    # Depth is taken at pixel centres, so the points are exact up to depth-buffer precision.
    assert np.quantile(np.sqrt(sq), 0.99) < 1e-3 * scale
    alpha, depth = v["rgba"][..., 3], v["depth"]
    assert np.all(depth[alpha == 0] == 0) and np.all(depth[alpha == 255] > 0)


def test_depth_matches_ray_parameter(torus_views):
    v = torus_views
    origins, dirs = render.camera_rays(v["K"], v["cam_to_world"], RES)
    forward = -v["cam_to_world"][:, None, None, :3, 2]
    cos = (dirs * forward).sum(-1)
    t = v["depth"] / cos
    hit = v["depth"] > 0
    via_rays = (origins + dirs * t[..., None])[hit]
    np.testing.assert_allclose(
        via_rays, np.concatenate(render.depth_to_points(v["depth"], v["K"], v["cam_to_world"])), atol=1e-4
    )


def test_empty_pixels_see_nothing_and_hit_pixels_see_the_mesh(torus, torus_views):
    v = torus_views
    origins, dirs = render.camera_rays(v["K"], v["cam_to_world"], RES)
    alpha = v["rgba"][..., 3]
    rng = np.random.default_rng(0)
    empty = np.flatnonzero(alpha.ravel() == 0)
    full = np.flatnonzero(alpha.ravel() == 255)
    for pick, expected in ((empty, False), (full, True)):
        pick = rng.choice(pick, 500, replace=False)
        hits = torus.ray.intersects_any(origins.reshape(-1, 3)[pick], dirs.reshape(-1, 3)[pick])
        assert np.all(hits == expected)


def test_rays_start_at_cameras_and_centre_ray_hits_origin():
    res = 65  # odd, so one pixel centre sits exactly on the optical axis
    K = render.intrinsics(res, YFOV)
    poses = np.stack([render.look_at(DIST * d) for d in render.camera_directions()])
    origins, dirs = render.camera_rays(K, poses, res)
    assert origins.shape == dirs.shape == (24, res, res, 3) and dirs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(origins, np.broadcast_to(poses[:, None, None, :3, 3], origins.shape), atol=1e-6)
    centre = res // 2
    np.testing.assert_allclose(dirs[:, centre, centre], -render.camera_directions(), atol=1e-6)
    # Row 0 is the top of the image: its rays point upwards (world +Z) relative to the centre ray.
    assert np.all(dirs[8:16, 0, centre, 2] > 0) and np.all(dirs[8:16, -1, centre, 2] < 0)


def test_sphere_interval():
    o = np.array([[0.0, 0.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    d = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    t0, t1 = render.sphere_interval(o, d)
    np.testing.assert_allclose(t0, [2.0, 0.0, 0.0])
    np.testing.assert_allclose(t1, [4.0, 0.0, 0.5])  # miss -> empty; inside -> starts at 0
    torch = pytest.importorskip("torch")
    tt0, tt1 = render.sphere_interval(torch.tensor(o), torch.tensor(d), radius=1.0)
    np.testing.assert_allclose(tt0.numpy(), t0)
    np.testing.assert_allclose(tt1.numpy(), t1)
