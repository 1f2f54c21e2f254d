"""Render the 24 fixed views of an object and the camera rays that go with them.

Conventions (docs/design.md, "Views"): world Z is up; three rings of 8 cameras at elevations +45°, 0°, -45°,
azimuths staggered between rings, all looking at the origin from one distance with one field of view.
Cameras follow pyrender/OpenGL: the camera looks down its -Z axis with +Y up in the image. Images are
stored with row 0 at the top, and pixel (row v, column u) has its centre at (u + 0.5, v + 0.5).
"""

import os

import numpy as np

from .config import RenderConfig

DEFAULT_VIEWS = RenderConfig()
"""The camera setup of docs/design.md, for callers that pass none (tests, figures); the stages pass cfg.render."""
THUMBNAIL_ELEVATION_DEG = 30.0
"""Figures show each mesh from one camera this far above the equator: a three-quarter view."""


def view_count(render_cfg) -> int:
    """Views per object: rings × cameras per ring."""
    return len(render_cfg.elevations_deg) * render_cfg.per_ring


def import_pyrender():
    """Return the pyrender module, after the fixes it needs here (EGL and a headless pyglet, np.infty for numpy 2)."""
    # Done lazily so that importing hypershape.render never pulls in OpenGL.
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    # pyrender imports pyglet, which loads X11 libraries unless told it is headless: a GPU node without
    # them (seen on a lent H200) failed every 03 render with an Xrender error
    os.environ.setdefault("PYGLET_HEADLESS", "true")
    if not hasattr(np, "infty"):
        np.infty = np.inf
    import pyrender

    return pyrender


_RENDERERS: dict[tuple[int, int], object] = {}


def offscreen_renderer(resolution: int):
    """pyrender's OffscreenRenderer of size resolution², one per process and size, kept for the process's
    life: its delete() runs a full gc.collect(), which in a process holding many objects costs more than the
    pictures. Keyed by the process id too, since a GL context does not survive a fork."""
    key = (os.getpid(), int(resolution))
    if key not in _RENDERERS:
        _RENDERERS[key] = import_pyrender().OffscreenRenderer(resolution, resolution)
    return _RENDERERS[key]


def camera_directions(elevations_deg=None, per_ring=None):
    """Unit vectors from the origin to each camera, ring by ring: shape [len(elevations)·per_ring, 3].

    Ring k sits at elevations_deg[k]; its azimuths are j·360/per_ring plus an offset of
    k·(360/per_ring)/len(elevations) degrees, so that the rings do not line up. None takes RenderConfig's
    default.
    """
    elevations_deg = DEFAULT_VIEWS.elevations_deg if elevations_deg is None else elevations_deg
    per_ring = DEFAULT_VIEWS.per_ring if per_ring is None else per_ring
    step = 360.0 / per_ring
    dirs = []
    for k, elev in enumerate(elevations_deg):
        azim = np.radians(np.arange(per_ring) * step + k * step / len(elevations_deg))
        elev = np.radians(elev)
        dirs.append(
            np.stack(
                [np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.full(per_ring, np.sin(elev))], axis=1
            )
        )
    return np.concatenate(dirs, axis=0)


def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)):
    """Camera-to-world 4x4 pose of a camera at `eye` looking at `target` (OpenGL: looks down -Z, +Y up)."""
    eye = np.asarray(eye, dtype=np.float64)
    back = eye - np.asarray(target, dtype=np.float64)
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    if np.linalg.norm(right) < 1e-8:
        # Looking straight along `up`: any perpendicular will do, pick one deterministically.
        right = np.cross((0.0, 1.0, 0.0) if abs(back[1]) < 0.9 else (1.0, 0.0, 0.0), back)
    right /= np.linalg.norm(right)
    pose = np.eye(4)
    pose[:3, 0] = right
    pose[:3, 1] = np.cross(back, right)
    pose[:3, 2] = back
    pose[:3, 3] = eye
    return pose


def camera_poses(distance, elevations_deg=None, per_ring=None):
    """Camera-to-world poses [V, 4, 4] of the cameras of camera_directions, `distance` from the origin,
    looking at it."""
    return np.stack([look_at(distance * d) for d in camera_directions(elevations_deg, per_ring)])


LIGHT_IN_CAMERA = look_at((-0.4, 0.5, 1.0), up=(0.0, 1.0, 0.0))
"""Pose of the key light in the camera's frame: above left of the camera, off the viewing axis, because a pure
headlight shades relief symmetrically and flattens it."""


def light_poses(cam_to_world) -> np.ndarray:
    """World poses [V, 4, 4] of the key light that rides on each camera of `cam_to_world` [V, 4, 4].
    A pyrender DirectionalLight shines along its pose's -Z axis."""
    return np.asarray(cam_to_world, dtype=np.float64).reshape(-1, 4, 4) @ LIGHT_IN_CAMERA


def light_directions(cam_to_world) -> np.ndarray:
    """Unit vectors [V, 3] from any lit point towards each camera's key light (light_poses' +Z axis):
    what a surface normal is dotted with in shading."""
    return light_poses(cam_to_world)[:, :3, 2]


def intrinsics(resolution, yfov_deg):
    """Pinhole K (3x3) of pyrender's PerspectiveCamera(yfov, aspectRatio=1) drawn at resolution×resolution."""
    f = (resolution / 2.0) / np.tan(np.radians(yfov_deg) / 2.0)
    return np.array([[f, 0.0, resolution / 2.0], [0.0, f, resolution / 2.0], [0.0, 0.0, 1.0]])


def render_views(mesh, resolution, yfov_deg, distance, color=(0.7, 0.7, 0.75), elevations_deg=None, per_ring=None):
    """Render `mesh` from every camera of camera_directions(elevations_deg, per_ring); returns a dict of arrays.

    rgba          uint8   [V,H,W,4]  alpha is pixel coverage (4x MSAA), background transparent black
    depth         float32 [V,H,W]    distance along the camera's -Z axis of the surface hit by the ray
                                     through the pixel centre, 0 where that ray hits nothing
    K             float32 [3,3]      see intrinsics()
    cam_to_world  float32 [V,4,4]    see look_at()
    directions    float32 [V,3]      unit vectors from the origin to the cameras

    Light is ambient plus a directional key light that rides on the camera, shining from its upper left,
    so shading shows surface orientation the same way in every view and every run.
    """
    pyrender = import_pyrender()
    directions = camera_directions(elevations_deg, per_ring)
    poses = camera_poses(distance, elevations_deg, per_ring)

    scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[0.25, 0.25, 0.25])
    material = pyrender.MetallicRoughnessMaterial(
        baseColorFactor=[*color, 1.0], metallicFactor=0.0, roughnessFactor=1.0
    )
    mesh_node = scene.add(pyrender.Mesh.from_trimesh(mesh, material=material, smooth=True))
    # Near/far planes bracket the unit sphere with room to spare, keeping depth precision high.
    camera = pyrender.PerspectiveCamera(
        yfov=np.radians(yfov_deg), aspectRatio=1.0, znear=max(0.01, 0.1 * distance), zfar=10.0 * distance + 10.0
    )
    camera_node = scene.add(camera, pose=np.eye(4))
    light_node = scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=3.0), pose=np.eye(4))

    renderer = offscreen_renderer(resolution)
    rgba, depth = [], []
    for pose, light_pose in zip(poses, light_poses(poses)):
        scene.set_pose(camera_node, pose)
        scene.set_pose(light_node, light_pose)
        rgba.append(renderer.render(scene, flags=pyrender.RenderFlags.RGBA)[0])
        # pyrender turns multisampling off for SEG renders; otherwise depth would come from one
        # MSAA sample, up to 0.4 px away from the pixel centre that camera_rays shoots through.
        depth.append(
            renderer.render(scene, flags=pyrender.RenderFlags.SEG, seg_node_map={mesh_node: (255, 255, 255)})[1]
        )

    return {
        "rgba": np.stack(rgba).astype(np.uint8),
        "depth": np.stack(depth).astype(np.float32),
        "K": intrinsics(resolution, yfov_deg).astype(np.float32),
        "cam_to_world": poses.astype(np.float32),
        "directions": directions.astype(np.float32),
    }


def _camera_frame_dirs(K, resolution):
    """Per-pixel directions in the camera frame with z = -1 (not unit), shape [H,W,3]."""
    K = np.asarray(K, dtype=np.float64)
    centres = np.arange(resolution) + 0.5
    u, v = np.meshgrid(centres, centres, indexing="xy")
    # Image rows grow downwards while camera +Y points up, hence the minus sign on y.
    x = (u - K[0, 2]) / K[0, 0]
    y = -(v - K[1, 2]) / K[1, 1]
    return np.stack([x, y, -np.ones_like(x)], axis=-1)


def camera_rays(K, cam_to_world, resolution):
    """World-frame rays through every pixel centre: (origins, dirs), each float32 [V,H,W,3], dirs unit.

    Pixel layout matches render_views (row 0 = top). A pixel's depth d relates to the ray parameter t by
    t = d / cos(angle between the ray and the optical axis), since depth is measured along -Z;
    depth_to_points does this for you.
    """
    cam_to_world = np.asarray(cam_to_world, dtype=np.float64).reshape(-1, 4, 4)
    local = _camera_frame_dirs(K, resolution)
    local /= np.linalg.norm(local, axis=-1, keepdims=True)
    dirs = np.einsum("vij,hwj->vhwi", cam_to_world[:, :3, :3], local)
    origins = np.broadcast_to(cam_to_world[:, None, None, :3, 3], dirs.shape)
    return origins.astype(np.float32), dirs.astype(np.float32)


def depth_to_points(depth, K, cam_to_world):
    """Back-project every pixel with depth > 0 to the world: a list with one [n_i,3] float32 array per view."""
    depth = np.asarray(depth).reshape(-1, *np.shape(depth)[-2:])
    cam_to_world = np.asarray(cam_to_world, dtype=np.float64).reshape(-1, 4, 4)
    local = _camera_frame_dirs(K, depth.shape[-1])
    points = []
    for d, pose in zip(depth, cam_to_world):
        hit = d > 0
        # local has z = -1, so scaling it by the depth lands exactly at camera-frame z = -depth.
        p_cam = local[hit] * d[hit, None]
        points.append((p_cam @ pose[:3, :3].T + pose[:3, 3]).astype(np.float32))
    return points


def sphere_interval(origins, dirs, radius=1.0):
    """Ray parameters (t_near, t_far) where rays o + t·d enter and leave the origin-centred sphere.

    Works on numpy arrays and torch tensors of shape [..., 3]; dirs need not be unit length. Rays that
    miss get t_near == t_far (their closest approach), so an interval is empty exactly when t_far <= t_near.
    t_near is clamped at 0 for origins inside the sphere.
    """
    a = (dirs * dirs).sum(-1)
    b = (origins * dirs).sum(-1) / a
    c = ((origins * origins).sum(-1) - radius * radius) / a
    half = (b * b - c).clip(min=0) ** 0.5
    return (-b - half).clip(min=0), (-b + half).clip(min=0)


def rgb_on_black(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 [..., 4] as RGB in [0, 1] over a black background (colour times coverage): what the
    image-SIRENs are fitted to."""
    rgba = np.asarray(rgba, dtype=np.float32) / 255.0
    return rgba[..., :3] * rgba[..., 3:]


def render_like(mesh, render) -> dict:
    """render_views of a mesh with the cameras of `render` (cfg.render), as 03 renders every object."""
    return render_views(
        mesh,
        render.resolution,
        render.yfov_deg,
        render.distance,
        elevations_deg=tuple(render.elevations_deg),
        per_ring=render.per_ring,
    )


def thumbnail(mesh, resolution: int = 128) -> np.ndarray:
    """One RGBA picture of a mesh from a fixed three-quarter view (for figures); blank if it is empty."""
    if len(mesh.faces) == 0:
        return np.zeros((resolution, resolution, 4), np.uint8)
    return render_views(
        mesh,
        resolution,
        DEFAULT_VIEWS.yfov_deg,
        DEFAULT_VIEWS.distance,
        elevations_deg=(THUMBNAIL_ELEVATION_DEG,),
        per_ring=1,
    )["rgba"][0]
