"""Properties of the geometry package: winding numbers, the watertight solid, SDF, topology, metrics."""

import numpy as np
import pytest
import trimesh

from hypershape.geometry import solid as solid_module
from hypershape.geometry.marching import close_gaps_in, closed_mesh, grid_points, mesh_from_grid, mesh_from_sdf
from hypershape.geometry.metrics import WORST_CHAMFER, chamfer, fscore, mesh_metrics, normal_consistency, volumetric_iou
from hypershape.geometry.sdf import sample_sdf, sample_surface, signed_distance, uniform_cube_points
from hypershape.geometry.solid import faithfulness, make_solid, normalise, sheet_faces
from hypershape.geometry.topology import genus_match, topology
from hypershape.geometry.winding import winding_number

TORUS_VOLUME = 2 * np.pi**2 * 0.6 * 0.25**2


def sphere(radius=0.5, centre=(0, 0, 0)):
    m = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    m.apply_translation(centre)
    return m


def torus():
    return trimesh.creation.torus(major_radius=0.6, minor_radius=0.25, major_sections=64, minor_sections=32)


def punch_hole(mesh, centre, fraction=0.05):
    """Remove the `fraction` of faces nearest `centre`: one round hole."""
    d = np.linalg.norm(mesh.triangles_center - centre, axis=1)
    keep = d > np.quantile(d, fraction)
    return trimesh.Trimesh(mesh.vertices, mesh.faces[keep], process=False)


def radial_points(radii, seed=0):
    d = np.random.default_rng(seed).normal(size=(len(radii), 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True) * np.asarray(radii)[:, None]


@pytest.fixture(scope="module")
def holed_torus():
    return punch_hole(torus(), np.array([0.85, 0.0, 0.0]))


# --- winding number and signed distance -------------------------------------------------------------------


def test_sphere_signed_distance_and_winding():
    s = sphere()
    p = radial_points([0.0, 0.25, 0.75])
    assert np.allclose(signed_distance(s, p), [-0.5, -0.25, 0.25], atol=0.01)
    w = winding_number(s.vertices, s.faces, radial_points([0.0, 0.3, 0.45, 0.55, 0.8, 2.0]))
    assert np.allclose(w[:3], 1.0, atol=0.02) and np.allclose(w[3:], 0.0, atol=0.02)


def test_winding_number_chunks_agree():
    s = sphere()
    q = np.random.default_rng(1).uniform(-1, 1, (5000, 3))
    assert np.allclose(winding_number(s.vertices, s.faces, q, chunk=777), winding_number(s.vertices, s.faces, q))


def test_signed_distance_of_solid_with_hole_is_solid(holed_torus):
    # On the raw holed mesh the winding number still says "inside" at the tube's centre line.
    centre_line = np.array([[0.6, 0, 0], [0, 0.6, 0], [-0.6, 0, 0], [0, -0.6, 0]])
    d = signed_distance(holed_torus, centre_line)
    assert np.all(d < 0) and np.allclose(d[1:], -0.25, atol=0.01)


# --- watertight solid ---------------------------------------------------------------------------------------


def test_holed_torus_becomes_the_same_solid(holed_torus):
    assert not holed_torus.is_watertight  # the test means something: the input is open
    assert topology(holed_torus)["genus"] == [None]
    solid = make_solid(holed_torus, 128)
    topo = topology(solid)
    assert topo["closed_manifold"] and topo["components"] == 1 and topo["genus"] == [1]
    assert abs(topo["volume"] / TORUS_VOLUME - 1) < 0.05
    # Not a hollow shell: the tube's centre line is deep inside, even under the hole (where the patch
    # the winding number spans over a hole this size sags inwards a little).
    assert np.all(signed_distance(solid, [[0, 0.6, 0], [-0.6, 0, 0], [0, -0.6, 0]]) < -0.2)
    assert signed_distance(solid, [[0.6, 0, 0]])[0] < -0.05


def test_overlapping_spheres_become_one_solid():
    both = trimesh.util.concatenate([sphere(centre=(-0.3, 0, 0)), sphere(centre=(0.3, 0, 0))])
    assert topology(both)["components"] == 2
    solid = make_solid(both, 96)
    topo = topology(solid)
    r, d = 0.5, 0.6
    union = 2 * 4 / 3 * np.pi * r**3 - np.pi * (4 * r + d) * (2 * r - d) ** 2 / 12
    assert topo["components"] == 1 and topo["genus"] == [0] and topo["closed_manifold"]
    assert abs(topo["volume"] / union - 1) < 0.05
    # The overlap is solid, not a pair of walls.
    assert signed_distance(solid, [[0.0, 0, 0]])[0] < -0.3


def test_inward_faces_still_give_outward_solid():
    s = sphere()
    s.invert()
    solid = make_solid(s, 64)
    assert solid.volume > 0 and abs(solid.volume / (4 / 3 * np.pi * 0.125) - 1) < 0.05


def test_make_solid_rejects_empty():
    with pytest.raises(ValueError):
        make_solid(trimesh.Trimesh(), 32)


def test_normalise_round_trip():
    m = sphere(0.3, centre=(2.0, -1.0, 0.5))
    n, T = normalise(m, 0.9)
    assert np.allclose(n.bounds.mean(axis=0), 0, atol=1e-9)
    assert np.isclose(np.linalg.norm(n.vertices, axis=1).max(), 0.9)
    back = trimesh.transform_points(n.vertices, np.linalg.inv(T))
    assert np.allclose(back, m.vertices)


# --- topology -----------------------------------------------------------------------------------------------


def test_genus_sphere_torus_double_torus():
    assert topology(sphere())["genus"] == [0]
    assert topology(torus())["genus"] == [1]
    a = trimesh.creation.torus(0.5, 0.2)
    b = a.copy()
    a.apply_translation([-0.55, 0, 0])
    b.apply_translation([0.55, 0, 0])
    double = trimesh.boolean.union([a, b], engine="manifold")
    topo = topology(double)
    assert topo["components"] == 1 and topo["genus"] == [2] and genus_match(topo["genus"], [2])
    assert topo["euler"] == -2


def test_topology_merges_duplicate_vertices_and_filters_small_pieces():
    s = sphere()
    soup = trimesh.Trimesh(s.triangles.reshape(-1, 3), np.arange(3 * len(s.faces)).reshape(-1, 3), process=False)
    topo = topology(soup)
    assert topo["components"] == 1 and topo["genus"] == [0] and topo["closed_manifold"]
    assert np.isclose(topo["volume"], s.volume)
    speck = sphere(0.01, centre=(2, 0, 0))
    topo = topology(trimesh.util.concatenate([s, speck]))
    assert topo["components"] == 2 and topo["components_filtered"] == 1 and topo["genus"] == [0]


def test_topology_of_empty_mesh():
    topo = topology(trimesh.Trimesh())
    assert topo["components"] == 0 and topo["genus"] == [] and not topo["closed_manifold"]
    assert not genus_match(topo["genus"], [])  # nothing to score never matches, not even nothing


# --- marching cubes -----------------------------------------------------------------------------------------


def test_marching_cubes_of_sphere_sdf():
    def sdf(p):
        return np.linalg.norm(p, axis=1) - 0.5

    mesh = mesh_from_sdf(sdf, 64, 1.0, batch=10000)
    assert abs(mesh.area / (4 * np.pi * 0.25) - 1) < 0.03
    assert mesh.volume > 0
    topo = topology(mesh)
    assert topo["genus"] == [0] and topo["closed_manifold"]
    assert np.allclose(np.linalg.norm(mesh.vertices, axis=1), 0.5, atol=0.01)


def test_a_surface_through_grid_nodes_stays_closed():
    """A sphere whose radius is a grid coordinate has nodes exactly on it (and a SIREN's field can come within
    1e-8 of zero at a node): the mesh is still one closed surface of genus 0, not pinched at those nodes."""
    r = 41
    radius = np.linspace(-1, 1, r)[31]  # 0.55: the nodes (+-0.55, 0, 0) and others lie on the sphere
    values = np.linalg.norm(grid_points(r, 1.0), axis=1) - radius
    assert (np.abs(values) < 1e-12).sum() > 0
    topo = topology(mesh_from_grid(values.reshape((r,) * 3), 1.0))
    assert topo["closed_manifold"] and topo["genus"] == [0]


def test_marching_cubes_empty_and_nan():
    g = grid_points(8, 1.0)
    assert g.shape == (512, 3) and np.allclose(g[0], -1) and np.allclose(g[-1], 1)
    assert np.allclose(g[1], [-1, -1, -1 + 2 / 7])  # 'ij' order: the last axis varies fastest
    assert len(mesh_from_grid(np.ones((8, 8, 8)), 1.0).faces) == 0
    bad = np.ones((8, 8, 8))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError):
        mesh_from_grid(bad, 1.0)


# --- metrics ------------------------------------------------------------------------------------------------


def test_chamfer_fscore_on_known_sets():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(2000, 3))
    assert chamfer(p, p) == (0.0, 0.0) and fscore(p, p, 0.01) == 1.0
    inner, n_inner = sample_surface(sphere(0.5), 20000, rng)
    outer, n_outer = sample_surface(sphere(0.52), 20000, rng)
    l1, l2 = chamfer(inner, outer)
    assert abs(l1 - 0.02) < 0.003 and l2 < 0.001
    assert fscore(inner, outer, 0.01) < 0.2 and fscore(inner, outer, 0.03) > 0.99
    assert normal_consistency(inner, n_inner, inner, n_inner) > 0.999
    assert normal_consistency(inner, n_inner, outer, n_outer) > 0.98


def test_volumetric_iou():
    q = uniform_cube_points(20000, np.random.default_rng(0))
    a, b = np.linalg.norm(q, axis=1) < 0.5, np.linalg.norm(q - [0.5, 0, 0], axis=1) < 0.5
    assert volumetric_iou(a, a) == 1.0 and volumetric_iou(a, ~a) == 0.0
    assert 0.1 < volumetric_iou(a, b) < 0.3  # analytic: 5/27 = 0.185


def test_mesh_metrics_empty_and_identical():
    gt = sphere()
    rng = np.random.default_rng(0)
    empty = mesh_metrics(trimesh.Trimesh(), gt, n_points=5000, rng=rng)
    assert empty["empty"] and empty["chamfer_l1"] == WORST_CHAMFER
    assert empty["chamfer_l2"] == pytest.approx(WORST_CHAMFER**2)
    assert empty["fscore_0.01"] == 0 and empty["fscore_0.02"] == 0 and empty["normal_consistency"] == 0
    assert empty["genus"] == [] and empty["components"] == 0
    same = mesh_metrics(gt, gt.copy(), n_points=30000, rng=rng)
    assert not same["empty"] and same["chamfer_l1"] < 0.01 and same["fscore_0.02"] > 0.95
    assert same["normal_consistency"] > 0.99 and same["genus"] == [0] and same["closed_manifold"]


# --- SDF samples --------------------------------------------------------------------------------------------


def test_sample_sdf_importance_sampling():
    s = sphere()
    out = sample_sdf(s, n_pool=100_000, n_samples=5000, n_surface=1000, beta=30, rng=np.random.default_rng(0))
    pts, sdf = out["points"], out["sdf"]
    assert pts.shape == (6000, 3) and sdf.shape == (6000,) and pts.dtype == np.float32
    assert np.all(np.linalg.norm(pts[:5000], axis=1) <= 1.0 + 1e-6)
    assert len(np.unique(pts[:5000], axis=0)) == 5000  # drawn without replacement
    assert np.allclose(sdf[:5000], signed_distance(s, pts[:5000]), atol=1e-5)
    assert np.mean(np.abs(sdf[:5000]) < 0.1) > 0.6
    assert np.all(sdf[5000:] == 0) and np.allclose(np.abs(signed_distance(s, pts[5000:])), 0, atol=1e-5)
    assert (sdf[:5000] < 0).any() and (sdf[:5000] > 0).any()
    again = sample_sdf(s, 100_000, 5000, 1000, 30, np.random.default_rng(0))
    assert np.array_equal(again["points"], pts)


# --- thin and open parts (issue 6) ----------------------------------------------------------------------------


def rectangle(corner, u, v):
    """Open single-sided rectangle of two triangles: corner, corner + u, corner + u + v, corner + v."""
    c, u, v = (np.asarray(x, dtype=float) for x in (corner, u, v))
    return trimesh.Trimesh([c, c + u, c + u + v, c + v], [[0, 1, 2], [0, 2, 3]], process=False)


def box_with_fin():
    """Closed 0.6-cube with an open 0.4 x 0.4 sheet standing on its top face, in the plane y = 0."""
    fin = rectangle((-0.2, 0, 0.3), (0.4, 0, 0), (0, 0, 0.4))
    return trimesh.util.concatenate([trimesh.creation.box(extents=(0.6, 0.6, 0.6)), fin]), fin


def voxel(mesh, resolution, padding=0.05):
    """Grid step make_solid uses for `mesh` (its default padding)."""
    return (1 + 2 * padding) * mesh.extents.max() / (resolution - 1)


@pytest.fixture(scope="module")
def fin_object():
    """What 02 makes of the box with a fin at the default resolution (small sample counts)."""
    import dataclasses

    from hypershape.config import DataConfig
    from hypershape.stages.watertight import make_object

    raw, fin = box_with_fin()
    d = dataclasses.replace(
        DataConfig(),
        solid_resolution=128,
        sdf_pool=2000,
        sdf_samples=500,
        surface_samples=100,
        uniform_samples=100,
        eval_surface_points=500,
    )
    return raw, fin, make_object(raw, d, np.random.default_rng(0))


def test_sheet_faces_are_the_open_parts_only(holed_torus):
    raw, _ = box_with_fin()
    assert sheet_faces(raw, 0.01).tolist() == [False] * 12 + [True, True]
    assert not sheet_faces(torus(), 0.01).any() and not sheet_faces(sphere(), 0.01).any()
    assert not sheet_faces(holed_torus, 0.01).any()  # a hole's rim still has the inside on one side
    # the broad faces of a closed wall thinner than the probe offset count as a sheet, of a thicker one not
    wall = trimesh.creation.box(extents=(1, 1, 0.004))
    broad = np.abs(wall.face_normals[:, 2]) > 0.5
    assert np.array_equal(sheet_faces(wall, 0.01), broad) and not sheet_faces(wall, 0.001).any()


def test_sheet_faces_asks_winding_numbers_only_where_skipping_them_cannot_change_the_answer(monkeypatch):
    """On closed meshes sheet_faces skips the probes with no other surface within the offset; the answer
    must be the one every probe's winding numbers give, also for a sheet closed by its reversed copy (each
    face has a twin: the winding number does not change across it) and walls near the offset's thickness."""
    twin = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2], [0, 2, 1]], process=False)
    assert twin.is_watertight and twin.is_winding_consistent
    walls = [trimesh.creation.box(extents=(1, 1, t)) for t in (0.009, 0.011)]
    meshes = [
        twin,
        torus(),
        *walls,
        trimesh.util.concatenate([sphere(), trimesh.creation.box(extents=(0.3, 0.3, 0.005))]),
    ]
    fast = [sheet_faces(m, 0.01) for m in meshes]
    monkeypatch.setattr(
        solid_module, "_unclear_probes", lambda mesh, tri, probes, off, offset: np.ones(len(probes), bool)
    )
    for m, f in zip(meshes, fast):
        assert np.array_equal(f, sheet_faces(m, 0.01))
    assert fast[0].all() and fast[2].any() and not fast[3].any()


def test_fin_on_a_box_is_kept_as_a_thin_slab(fin_object):
    raw, fin, r = fin_object
    solid, transform, topo = r["solid"], r["transform"], r["topology"]
    scale = transform[0, 0]
    step = voxel(raw, 128) * scale  # in the normalised frame, where the solid is
    assert topo["closed_manifold"] and topo["components"] == 1 and topo["genus"] == [0]
    assert topo["faithfulness"] >= 0.97  # 0.935 when the fin was lost
    # every part of the fin is in the solid, its surface about a voxel off the sheet
    on_fin, _ = sample_surface(fin, 2000, np.random.default_rng(0))
    on_fin = trimesh.transform_points(on_fin, transform)
    assert np.all(np.abs(signed_distance(solid, on_fin)) < step + 0.01)
    above_box = on_fin[:, 2] > trimesh.transform_points([[0, 0, 0.3]], transform)[0, 2] + 2 * step
    assert np.all(signed_distance(solid, on_fin[above_box]) < 0)  # inside the slab, not in a gap
    # thin: two voxels beside the fin is outside; the box is not inflated (slab ~ fin area x 2 voxels)
    beside = trimesh.transform_points([[0, 0, 0.5]], transform) + [0, 2 * step, 0]
    assert signed_distance(solid, beside)[0] > 0
    box, slab = (0.6 * scale) ** 3, 0.16 * scale**2 * 2 * step
    assert box < solid.volume < box + 1.3 * slab


def test_lone_open_sheet_becomes_a_thin_solid():
    raw = rectangle((-0.5, -0.5, 0), (1, 0, 0), (0, 1, 0))
    solid = make_solid(raw, 128, thin_voxels=1.0)
    step = voxel(raw, 128)
    topo = topology(solid)
    assert topo["closed_manifold"] and topo["components"] == 1 and topo["genus"] == [0]
    assert abs(solid.volume / (2 * step) - 1) < 0.1  # a 1 x 1 slab two voxels thick
    normalised, transform = normalise(solid, 0.9)
    assert faithfulness(raw, normalised, transform, 10_000, 0.02, np.random.default_rng(0)) >= 0.97


def test_closed_shapes_are_not_thickened():
    # Against the raw polyhedra's own volume: the solid keeps it within 1% (a one-voxel shell would add
    # ~5% to the sphere), with the genus. The holed torus: test_holed_torus_becomes_the_same_solid.
    for raw, genus in ((sphere(), 0), (torus(), 1)):
        topo = topology(make_solid(raw, 128))
        assert topo["genus"] == [genus] and abs(topo["volume"] / raw.volume - 1) < 0.01


def test_faithfulness_counts_the_raw_surface_near_the_solid():
    rng = np.random.default_rng(0)
    raw = sphere(0.5, centre=(1.0, 0, 0))
    near, far = sphere(0.45 * 1.02), sphere(0.45 * 1.1)  # the raw sphere normalised to 0.9/2, grown
    _, transform = normalise(raw, 0.45)
    assert faithfulness(raw, near, transform, 5000, 0.02, rng) == 1.0
    assert faithfulness(raw, far, transform, 5000, 0.02, rng) == 0.0
    # Half the sphere, in its own frame: its half, and a zone 0.02 wide along the cut (2% of the area)
    half = trimesh.Trimesh(raw.vertices, raw.faces[raw.triangles_center[:, 0] > 1.0], process=False)
    assert 0.5 < faithfulness(raw, half, np.eye(4), 20_000, 0.02, rng) < 0.54


def test_sample_sdf_uniform_points_cover_the_whole_cube():
    s = sphere()
    out = sample_sdf(
        s, n_pool=20_000, n_samples=1000, n_surface=500, beta=30, rng=np.random.default_rng(0), n_uniform=4000
    )
    pts, sdf = out["points"][1500:], out["sdf"][1500:]
    assert pts.shape == (4000, 3) and np.abs(pts).max() <= 1.0
    # the cube's corners outside the unit ball (a share 1 - pi/6 of it) are supervised too
    outside_ball = np.linalg.norm(pts, axis=1) > 1.0
    assert outside_ball.mean() == pytest.approx(1 - np.pi / 6, abs=0.03)
    assert np.allclose(sdf, np.linalg.norm(pts, axis=1) - 0.5, atol=3e-3)  # the sphere's own SDF there


def shell(res: int = 48, hole: bool = False) -> np.ndarray:
    """SDF grid of a ball's shell (solid between radii 0.4 and 0.6, a void inside); hole: a tube of radius
    0.2 along +z from the centre cut through it, so the hollow opens to the outside (a cup's)."""
    p = grid_points(res, 1.0)
    d = np.abs(np.linalg.norm(p, axis=1) - 0.5) - 0.1
    if hole:
        tube = np.where(p[:, 2] > 0, 0.2 - np.linalg.norm(p[:, :2], axis=1), -np.inf)
        d = np.maximum(d, tube)  # solid minus the tube
    return d.reshape((res,) * 3)


def test_fill_voids_makes_a_sealed_hollow_solid_and_leaves_an_open_one():
    sealed = closed_mesh(shell(), 1.0)
    assert len(sealed.split(only_watertight=False)) == 2  # the inner surface bounds the void
    filled = closed_mesh(shell(), 1.0, fill_voids=True)
    assert len(filled.split(only_watertight=False)) == 1
    assert filled.volume == pytest.approx(4 / 3 * np.pi * 0.6**3, rel=0.02)  # the whole ball
    open_cup = shell(hole=True)
    kept = open_cup.copy()
    closed_mesh(kept, 1.0, fill_voids=True)
    closed_mesh(open_cup, 1.0)
    np.testing.assert_array_equal(kept, open_cup)  # its hollow reaches the outside: nothing is filled


def slab_with_hole(res: int, radius: float) -> np.ndarray:
    """SDF grid (exact away from the hole's rim) of a slab |x|, |y| < 0.6, |z| < 0.15 with a round hole of
    `radius` through it along z: genus 1."""
    p = grid_points(res, 1.0)
    box = np.max(np.abs(p) - [0.6, 0.6, 0.15], axis=1)
    return np.maximum(box, radius - np.linalg.norm(p[:, :2], axis=1)).reshape((res,) * 3)


def test_close_gaps_fills_a_hole_narrower_than_twice_the_radius_and_keeps_a_wider_or_a_seen_one():
    res = 64
    narrow, wide = slab_with_hole(res, 0.06), slab_with_hole(res, 0.3)
    assert topology(closed_mesh(narrow.copy(), 1.0))["genus"] == [1]
    closed = closed_mesh(close_gaps_in(narrow.copy(), 0.1, 1.0), 1.0)
    assert topology(closed)["genus"] == [0]
    assert closed.volume == pytest.approx(1.2 * 1.2 * 0.3, rel=0.03)  # the slab, hole filled, edges kept
    kept = close_gaps_in(wide.copy(), 0.1, 1.0)
    assert topology(closed_mesh(kept, 1.0))["genus"] == [1]
    # where the allowed mask leaves the hole out (as a hull does where a view sees through), it stays open
    p = grid_points(res, 1.0).reshape(res, res, res, 3)
    seen = np.linalg.norm(p[..., :2], axis=-1) < 0.1
    assert topology(closed_mesh(close_gaps_in(narrow.copy(), 0.1, 1.0, allowed=~seen), 1.0))["genus"] == [1]
