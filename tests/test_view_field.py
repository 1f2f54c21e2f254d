"""Route view_field's network (readout/view_field.py): a point's features do not depend on the order of the
views, and trained on spheres whose drawn outlines are soft (so the visual hull of their views is fat), it
reads the radius of a sphere of a size it never saw, where the hull misses by the softness."""

import numpy as np
import pytest
import torch
import trimesh
from conftest import make_cfg, records

from hypershape import render
from hypershape.config import ViewFieldConfig
from hypershape.geometry.carve import hull_field
from hypershape.geometry.marching import beside_surface
from hypershape.paths import paths_of
from hypershape.readout.probe import mesh_brightness, probe_cameras
from hypershape.readout.view_field import (
    ViewField,
    blurred,
    field_grid,
    grid_values,
    train_view_field,
    view_features,
    view_stack,
)
from hypershape.runtime import load_json
from hypershape.stage_specs import mapper_config, refine_config

RES, YFOV, DIST, SOFT, THRESHOLD = 32, 40.0, 3.0, 0.03, 0.15
RADII, SATURATION = [0, 1, 2], 0.15


def sphere_views(radius: float, soft: float = SOFT) -> tuple[torch.Tensor, torch.Tensor]:
    """Views [24, R, R] of a sphere at the origin whose outline fades over `soft` (as a SIREN's blurs), poses."""
    poses = render.camera_poses(DIST)
    o, d = (torch.from_numpy(a) for a in render.camera_rays(render.intrinsics(RES, YFOV), poses, RES))
    miss = torch.linalg.cross(o, d, dim=-1).norm(dim=-1)  # each pixel's ray's distance from the centre
    return torch.sigmoid((radius - miss) / soft), torch.from_numpy(poses).float()


def sphere_samples(radius: float, gen: torch.Generator, n: int = 4000):
    """SDF samples of the sphere: half near its surface, half uniform in the cube."""
    dirs = torch.nn.functional.normalize(torch.randn(n // 2, 3, generator=gen), dim=-1)
    near = dirs * (radius + 0.05 * torch.randn(n // 2, 1, generator=gen))
    points = torch.cat([near, torch.rand(n // 2, 3, generator=gen) * 2 - 1])
    return points, points.norm(dim=-1) - radius


def fit_config(hidden: int, steps: int, points: int, members: int = 1) -> ViewFieldConfig:
    """A view_field config section for train_view_field (the schema's defaults elsewhere): 2 hidden layers,
    every object in each step."""
    return ViewFieldConfig(
        hidden=hidden, layers=2, members=members, clamp=0.1, steps=steps, lr=3e-3, points=points, batch_objects=0
    )


def crossing(f, radius_range=(0.3, 0.75)) -> torch.Tensor:
    """Where f changes sign along 14 rays from the centre (6 axes, 8 diagonals): the radius it reads."""
    axes = torch.eye(3)
    corners = torch.tensor([[x, y, z] for x in (1.0, -1.0) for y in (1.0, -1.0) for z in (1.0, -1.0)])
    dirs = torch.cat([axes, -axes, corners])
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    r = torch.linspace(*radius_range, 226)
    values = f((dirs[:, None] * r[None, :, None]).reshape(-1, 3)).reshape(len(dirs), len(r))
    return r[(values > 0).float().argmax(1)]  # the first radius outside


@pytest.mark.parametrize("order", ["blur", "view", "ring"])
def test_sorted_the_features_do_not_depend_on_the_order_of_the_views(order):
    images, poses = sphere_views(0.4)
    images = images * torch.linspace(0.5, 1.0, 24)[:, None, None]  # views that differ
    points = torch.rand(500, 3) * 1.4 - 0.7
    perm = torch.randperm(24, generator=torch.Generator().manual_seed(0))
    a = view_features(blurred(images, RADII, SATURATION), poses, YFOV, points, order)
    b = view_features(blurred(images[perm], RADII, SATURATION), poses[perm], YFOV, points, order)
    torch.testing.assert_close(a, b)
    assert a.shape == (500, len(RADII) * 24) and not torch.equal(a[:, :24], a[:, 24:48])


def test_by_view_or_camera_the_features_keep_which_blurred_values_come_from_one_view():
    """Two views, two blurs, one point at the centre of both: views (0.1, 0.9) and (0.7, 0.2) against
    (0.1, 0.2) and (0.7, 0.9). Each blur sorted on its own, the two read alike; sorted by view, they differ,
    and each reads as its views' pairs, the one with the smaller sum first. In camera order each camera's
    pair stays in its camera's place: swapping the cameras' views swaps the features, which sorted by view
    it does not."""
    poses = torch.from_numpy(render.camera_poses(DIST)[:2]).float()
    centre = torch.zeros(1, 3)

    def stack(v0, v1):  # [S, V, R, R]: each view one value per blur, everywhere
        return torch.tensor([[v0[s], v1[s]] for s in range(2)])[..., None, None].expand(2, 2, RES, RES)

    crossed, paired = stack((0.1, 0.9), (0.7, 0.2)), stack((0.1, 0.2), (0.7, 0.9))
    swapped = stack((0.7, 0.2), (0.1, 0.9))
    each = [view_features(x, poses, YFOV, centre) for x in (crossed, paired)]
    torch.testing.assert_close(*each)
    by_view = [view_features(x, poses, YFOV, centre, "view")[0] for x in (crossed, paired, swapped)]
    torch.testing.assert_close(by_view[0], torch.tensor([0.7, 0.2, 0.1, 0.9]))
    torch.testing.assert_close(by_view[1], torch.tensor([0.1, 0.2, 0.7, 0.9]))
    torch.testing.assert_close(by_view[2], by_view[0])
    camera = [view_features(x, poses, YFOV, centre, "camera")[0] for x in (crossed, swapped)]
    torch.testing.assert_close(camera[0], torch.tensor([0.1, 0.9, 0.7, 0.2]))
    torch.testing.assert_close(camera[1], torch.tensor([0.7, 0.2, 0.1, 0.9]))
    # a network is rebuilt from its checkpoint's sizes reading in its order (80 reads as 70 trained)
    for order, expected in (("view", by_view[0]), ("camera", camera[0])):
        rebuilt = ViewField(**ViewField(4, 8, 1, order=order).sizes)
        torch.testing.assert_close(rebuilt.features(crossed, poses, YFOV, centre)[0], expected)
    with pytest.raises(ValueError, match="view_field.order is 'sorted'"):
        ViewField(4, 8, 1, order="sorted")


def test_by_ring_the_features_keep_which_views_look_down_and_not_their_azimuths():
    """Each view one value everywhere: swapping the values of two cameras of one ring leaves the features
    sorted by ring as they were, swapping those of a camera looking down and one looking up changes them
    (sorted over all views, neither swap does)."""
    poses = torch.from_numpy(render.camera_poses(DIST)).float()
    height = poses[:, 2, 3]
    low, high = int(height.argmin()), int(height.argmax())
    beside = int(next(i for i in range(24) if i != high and torch.isclose(height[i], height[high])))
    values = torch.linspace(0.1, 0.9, 24)

    def features(order, i, j):
        v = values.clone()
        v[[i, j]] = v[[j, i]]
        return view_features(v[None, :, None, None].expand(1, 24, RES, RES), poses, YFOV, torch.zeros(1, 3), order)

    plain = {order: features(order, 0, 0) for order in ("blur", "ring")}
    torch.testing.assert_close(features("ring", high, beside), plain["ring"])
    assert not torch.allclose(features("ring", high, low), plain["ring"])
    torch.testing.assert_close(features("blur", high, low), plain["blur"])


def test_shading_inside_an_outline_does_not_change_the_features():
    outline, poses = sphere_views(0.4, soft=1e-4)  # a hard outline: every pixel 0 or 1
    points = torch.rand(500, 3) * 1.4 - 0.7
    dark, bright = (view_features(blurred(outline * s, RADII, SATURATION), poses, YFOV, points) for s in (0.3, 0.9))
    torch.testing.assert_close(dark, bright)
    as_drawn = [view_features(blurred(outline * s, RADII, 1.0), poses, YFOV, points) for s in (0.3, 0.9)]
    assert not torch.allclose(*as_drawn)  # unsaturated, the shading shows


def cup_and_solid() -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """A cup (a 0.06 floor, open at the top) and the solid cylinder it is cut from: one visual hull."""
    solid = trimesh.creation.cylinder(radius=0.45, height=0.9)
    cavity = trimesh.creation.cylinder(radius=0.38, height=0.9)
    cavity.apply_translation((0.0, 0.0, 0.06))
    return trimesh.boolean.difference([solid, cavity], engine="manifold"), solid


def test_the_hull_residual_shows_a_cups_hollow_where_the_views_see_it():
    """A cup and the solid cylinder it is cut from have one visual hull, so their views less that hull's
    differ exactly where their views differ (the views that look into the cup), and there the cup's is the
    larger: the hull's cap draws otherwise than the cup's inner walls, while the solid's draws back close to
    its own cap (what is left is the carved hull's facets)."""
    cfg = make_cfg()
    poses = probe_cameras(cfg.render)[1]
    cup, solid = cup_and_solid()
    views = {name: mesh_brightness(m, cfg.render) for name, m in (("cup", cup), ("solid", solid))}
    c = dict(blur_radii=[0], saturation=SATURATION, hull_residual=True)  # unblurred: the residual as it is
    residual = {name: view_stack(v, poses, c, cfg)[-1] for name, v in views.items()}
    seen = (views["cup"] - views["solid"]).abs().mean((1, 2)) > 1e-3  # the views that look into the cup
    assert 0 < int(seen.sum()) < len(seen)
    apart = (residual["cup"] - residual["solid"]).abs().mean((1, 2))
    assert float(apart[~seen].max()) < 1e-3 < float(apart[seen].min())
    hollow = (views["cup"] - views["solid"]).abs() > 0.1
    assert residual["cup"].abs()[hollow].mean() > 1.5 * residual["solid"].abs()[hollow].mean()


def test_the_hull_depth_says_how_far_behind_the_hulls_front_a_point_lies_in_each_view():
    """A sphere of radius 0.5: its hull's front faces each camera about 0.5 from the centre, so a point 0.4
    towards camera 0 lies about 0.1 behind the front in that view and deeper than the clamp in the opposite
    one; a point beside the sphere, which a view sees off its outline, reads the clamp in front (−1)."""
    cfg = make_cfg()
    poses = probe_cameras(cfg.render)[1]
    views = mesh_brightness(trimesh.creation.icosphere(4, radius=0.5), cfg.render)
    clamp = 0.3
    stack = view_stack(views, poses, dict(blur_radii=RADII, saturation=SATURATION, hull_depth=clamp), cfg)
    assert stack.shape[0] == len(RADII) + 1
    towards = poses[0, :3, 3] / poses[0, :3, 3].norm()
    opposite = int((poses[:, :3, 3] @ towards).argmin())
    beside = torch.linalg.cross(towards, torch.tensor([0.0, 0.0, 1.0]))
    beside = 0.8 * beside / beside.norm()  # off the sphere's outline in camera 0's view
    points = torch.stack([0.4 * towards, beside])
    feats = view_features(stack, poses, cfg.render.yfov_deg, points, "camera", clamp)
    depth = feats.reshape(2, len(poses), len(RADII) + 1)[..., -1] * clamp
    assert abs(float(depth[0, 0]) - 0.1) < 0.03
    assert float(depth[0, opposite]) == pytest.approx(clamp)
    assert float(depth[1, 0]) == pytest.approx(-clamp)
    unread = view_features(stack[:-1], poses, cfg.render.yfov_deg, points, "camera")
    torch.testing.assert_close(feats.reshape(2, len(poses), -1)[..., :-1].reshape(2, -1), unread)


def test_shading_tells_a_cups_hollow_from_the_solid_where_the_saturated_views_cannot():
    """Inside the cup's hollow every view of the cup and of the solid cylinder it is cut from is saturated
    alike (both lie inside all outlines), so a field reading saturated views alone gives both one SDF there;
    with view_field.shading each point also reads the views as drawn, which differ where a view looks in."""
    cfg = make_cfg()
    poses = probe_cameras(cfg.render)[1]
    cup, solid = cup_and_solid()
    hollow = torch.tensor([[0.0, 0.0, 0.3], [0.1, 0.1, 0.2], [0.0, 0.0, 0.44], [-0.2, 0.1, 0.3]])
    c = dict(blur_radii=RADII, saturation=SATURATION, shading=True)
    feats = {}
    for name, mesh in (("cup", cup), ("solid", solid)):
        stack = view_stack(mesh_brightness(mesh, cfg.render), poses, c, cfg)
        assert stack.shape[0] == 2 * len(RADII)
        feats[name] = view_features(stack, poses, cfg.render.yfov_deg, hollow)
    saturated = len(RADII) * len(poses)
    gap = (feats["cup"] - feats["solid"]).abs()
    assert float(gap[:, :saturated].max()) < 1e-6
    assert float(gap[:, saturated:].max(1).values.min()) > 0.01
    alone = view_stack(mesh_brightness(cup, cfg.render), poses, dict(c, shading=False), cfg)
    torch.testing.assert_close(alone, view_stack(mesh_brightness(cup, cfg.render), poses, c, cfg)[: len(RADII)])


@pytest.fixture(scope="module")
def sphere_field():
    """A field trained on six spheres' views (radii about the held-out 0.5), its curve, and the poses."""
    train_radii = [0.3, 0.35, 0.45, 0.55, 0.6, 0.65]
    stacks, data, poses = [], [], None
    gen = torch.Generator().manual_seed(0)
    for r in train_radii:
        images, poses = sphere_views(r)
        stacks.append(blurred(images, RADII, SATURATION))
        data.append(sphere_samples(r, gen))
    c = fit_config(hidden=32, steps=400, points=512)
    ids = [f"sphere{r}" for r in train_radii]
    field, curve = train_view_field(stacks, data, ids, poses, c, YFOV, 0, "cpu")
    return field, curve, poses


def test_trained_on_spheres_it_reads_an_unseen_radius_the_hull_overshoots(sphere_field):
    field, curve, poses = sphere_field
    held_out = 0.5
    assert curve[-1] < curve[0] / 3
    images, _ = sphere_views(held_out)
    learnt = crossing(lambda x: field_grid(field, blurred(images, RADII, SATURATION), poses, YFOV, x))
    hull = crossing(lambda x: hull_field(images, poses, YFOV, THRESHOLD, x))
    assert (learnt - held_out).abs().max() < 0.02, learnt
    assert (hull - held_out).abs().min() > 0.03, hull  # the threshold alone overshoots: the test can tell


def test_coarse_to_fine_reads_every_value_beside_the_surface_as_the_full_grid_does(sphere_field):
    field, _, poses = sphere_field
    stack = blurred(sphere_views(0.5)[0], RADII, SATURATION)
    res, coarse = 64, 16  # coarse cells 2/15 wide: half a diagonal is 0.115
    full = grid_values(field, stack, poses, YFOV, res, 1.0)
    beside = beside_surface(full)
    assert beside.sum() > 1000
    fine = grid_values(field, stack, poses, YFOV, res, 1.0, coarse, band=0.12)
    np.testing.assert_array_equal(fine[beside], full[beside])  # marching cubes makes the same mesh
    assert (fine != full).mean() > 0.5  # most of the grid was interpolated, not read
    # a band too narrow leaves unread points beside the surface after the first pass: the passes after it
    # read them (without them this case differs from the full grid)
    narrow = grid_values(field, stack, poses, YFOV, res, 1.0, coarse, band=0.01)
    np.testing.assert_array_equal(narrow[beside], full[beside])


def test_each_member_trains_as_it_would_alone_and_the_field_is_their_mean():
    """Members start from different inits, and each one's updates depend on its own loss alone: member 0 of
    two ends where one network trained alone from the same seed ends (the loss is not that of their mean)."""
    images, poses = sphere_views(0.4)
    stacks = [blurred(images, RADII, SATURATION)] * 2
    gen = torch.Generator().manual_seed(0)
    data = [sphere_samples(0.4, gen), sphere_samples(0.5, gen)]
    fields = {}
    for members in (1, 2):
        c = fit_config(hidden=16, steps=20, points=256, members=members)
        fields[members] = train_view_field(stacks, data, ["a", "b"], poses, c, YFOV, 0, "cpu")[0]
    alone, pair = fields[1].nets[0], fields[2].nets
    for a, b in zip(alone.parameters(), pair[0].parameters()):
        torch.testing.assert_close(a, b)
    assert not torch.allclose(pair[0][0].weight, pair[1][0].weight)  # another init
    x = torch.rand(100, 3 * 24)
    torch.testing.assert_close(fields[2](x), (pair[0](x) + pair[1](x))[:, 0] / 2)


@pytest.mark.slow
def test_the_route_rebuilds_its_network_from_the_checkpoint_and_scores_every_object(route_runs):
    cfg = route_runs["view_field"]
    p = paths_of(cfg)
    saved = torch.load(p.mapper, weights_only=True)
    field = ViewField(**saved["field"]["sizes"])
    field.load_state_dict(saved["field"]["state"])
    # the tiny preset reads in camera order and with the hull's residual: each blur twice, for each view;
    # and 80 closes the field's gaps
    assert cfg.view_field.order == "camera" and cfg.view_field.hull_residual and cfg.view_field.close_gaps
    assert saved["field"]["sizes"]["features"] == 2 * len(cfg.view_field.blur_radii) * 24
    assert saved["field"]["sizes"]["order"] == "camera" == field.order
    summary = load_json(p.summary_json)
    ids = {o["id"] for o in load_json(p.objects)}
    assert not summary["failed"]
    for kind in ("predicted", "refined"):
        assert {r["id"] for r in summary["rows"] if r["kind"] == kind} == ids
    assert set(records(cfg, "80_shape_sirens")) == ids


def test_how_80_reads_the_field_keys_80_and_what_70_trains_keys_70():
    base = make_cfg("preset=tiny", "mapper=view_field")
    for knob in (
        "view_field.coarse=0",
        "view_field.band=0.1",
        "view_field.fill_voids=false",
        "view_field.close_gaps=0.05",
    ):
        other = make_cfg("preset=tiny", "mapper=view_field", knob)
        assert mapper_config(other) == mapper_config(base), knob  # 70's field stays
        assert refine_config(other) != refine_config(base), knob
    for knob in (
        "view_field.lr_end=null",
        "view_field.order=blur",
        "view_field.hull_residual=false",
        "view_field.shading=true",
    ):
        trained = make_cfg("preset=tiny", "mapper=view_field", knob)
        assert mapper_config(trained) != mapper_config(base), knob
