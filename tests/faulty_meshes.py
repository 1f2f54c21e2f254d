"""A folder of meshes, good and malformed, for the fault trials (tests/test_faults.py, by hand as
`python tests/faulty_meshes.py DIR`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import trimesh

GOOD = {
    "ball.ply": lambda: trimesh.creation.icosphere(subdivisions=2),
    "ring.obj": lambda: trimesh.creation.torus(0.6, 0.2),
    "cube.stl": lambda: trimesh.creation.box(),
    "can.ply": lambda: trimesh.creation.cylinder(0.5, 1.0),
    "pill.obj": lambda: trimesh.creation.capsule(1.0, 0.3),
}
# A single flat triangle is an open sheet: docs/design.md keeps sheets as thin solids, so it is a good object.
SHEET = "triangle.obj"

# bad file -> the words its recorded reason must contain (any one of them, case-insensitive)
BAD = {
    "empty.obj": ("no triangles", "empty"),
    "noise.ply": ("cannot read",),
    "collinear.obj": ("degenerate", "no area", "no volume"),
    "nan.off": ("nan",),
    "points.ply": ("no triangles",),
    "speck.stl": ("degenerate", "too small", "no volume"),
    "out_of_range.obj": ("out of range",),
    "out_of_range.ply": ("out of range",),
    "cloud.xyz": ("unsupported",),
}


def write(folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in GOOD.items():
        make().export(folder / name)
    (folder / SHEET).write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    (folder / "empty.obj").write_bytes(b"")
    (folder / "noise.ply").write_bytes(np.random.default_rng(0).bytes(4096))
    (folder / "collinear.obj").write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n")
    (folder / "nan.off").write_text("OFF\n4 2 0\n0 0 0\n1 0 nan\n0 1 0\n0 0 1\n3 0 1 2\n3 0 1 3\n")
    cloud = np.random.default_rng(1).normal(size=(200, 3))
    trimesh.PointCloud(cloud).export(folder / "points.ply")
    speck = trimesh.creation.icosphere(subdivisions=1)
    speck.apply_scale(1e-9)
    speck.export(folder / "speck.stl")
    (folder / "out_of_range.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 9\nf 2 3 4\n")
    (folder / "out_of_range.ply").write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
        "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n"
    )
    np.savetxt(folder / "cloud.xyz", cloud)
    return folder


if __name__ == "__main__":
    write(Path(sys.argv[1]))
