"""Tests for hypershape.sources: procedural catalogue, local meshes, Objaverse through a pre-filled cache."""

import gzip
import json
import time
import urllib.error
import urllib.request

import numpy as np
import objaverse
import pytest
import trimesh

from hypershape.errors import UserError
from hypershape.sources import local, procedural
from hypershape.sources import objaverse as objaverse_source

CATALOGUE = procedural.catalogue(3 * len(procedural.FAMILIES))  # three of each family


def _euler_genus(mesh: trimesh.Trimesh) -> float:
    mesh = mesh.copy()
    mesh.merge_vertices()
    chi = len(mesh.vertices) - len(mesh.edges_unique) + len(mesh.faces)
    return (2 - chi) / 2


# --- procedural ---------------------------------------------------------------------------------------


def test_catalogue_metadata():
    names = [s.name for s in CATALOGUE]
    assert len(set(names)) == len(names)
    assert all(n.replace("_", "").isalnum() and n.islower() for n in names)
    assert len({s.family for s in CATALOGUE}) >= 20
    assert {0, 1, 2, 3} <= {s.genus for s in CATALOGUE}
    assert {0, 1, 2} <= {s.genus for s in CATALOGUE[:12]}
    assert len({s.family for s in CATALOGUE[:12]}) == 12
    assert [s.name for s in procedural.catalogue(len(CATALOGUE))] == names
    assert procedural.by_name(names[5]) == CATALOGUE[5]
    with pytest.raises(KeyError):
        procedural.by_name("no_such_solid")


@pytest.mark.parametrize("solid", CATALOGUE, ids=lambda s: s.name)
def test_solid_is_closed_connected_with_declared_genus(solid):
    mesh = procedural.build(solid)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert mesh.body_count == 1
    assert _euler_genus(mesh) == solid.genus
    assert len(mesh.faces) < 20_000
    assert np.all(mesh.extents < 2.0)


def test_build_is_deterministic():
    for solid in CATALOGUE[:12]:
        a, b = procedural.build(solid), procedural.build(solid)
        assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)


# --- local ---------------------------------------------------------------------------------------------


def test_local_lists_and_loads_every_format(tmp_path):
    box, ball = trimesh.creation.box(), trimesh.creation.icosphere(subdivisions=2)
    (tmp_path / "sub").mkdir()
    box.export(tmp_path / "box.ply")
    box.export(tmp_path / "box.obj")  # same stem as box.ply: ids must still differ
    ball.export(tmp_path / "ball.stl")
    ball.export(tmp_path / "sub" / "ball.off")
    scene = trimesh.Scene()
    scene.add_geometry(box, transform=trimesh.transformations.translation_matrix([3, 0, 0]))
    scene.add_geometry(ball)
    scene.export(tmp_path / "sub" / "scene.glb")
    (tmp_path / "notes.txt").write_text("not a mesh")

    found = dict(local.list_meshes(tmp_path))
    assert set(found) == {"box_obj", "box_ply", "ball", "sub__ball", "sub__scene"}
    assert local.list_meshes(tmp_path) == sorted(local.list_meshes(tmp_path), key=lambda x: str(x[1]))

    expected = {"box_obj": 12, "box_ply": 12, "ball": 320, "sub__ball": 320, "sub__scene": 332}
    for uid, path in found.items():
        mesh = local.load_mesh(path)
        assert len(mesh.faces) == expected[uid], uid
    scene_mesh = local.load_mesh(found["sub__scene"])
    assert scene_mesh.bounds[1][0] == pytest.approx(3.5)  # the node transform was applied
    assert len(local.load_mesh(found["ball"]).vertices) == 162  # STL triangles were re-joined


def test_local_rejects_bad_files(tmp_path):
    garbage = tmp_path / "garbage.ply"
    garbage.write_bytes(b"\x00\x01 definitely not a mesh")
    nan = tmp_path / "nan.obj"
    nan.write_text("v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n")
    points = tmp_path / "points.obj"
    points.write_text("v 0 0 0\nv 1 0 0\n")
    for path in (garbage, nan, points):
        with pytest.raises(local.MeshLoadError, match=path.name):
            local.load_mesh(path)


# --- objaverse, offline through a pre-filled cache -----------------------------------------------------


def _gz_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        json.dump(data, f)


@pytest.fixture
def objaverse_cache(tmp_path, monkeypatch):
    """A cache directory laid out as the package keeps it; the network refuses every request."""
    monkeypatch.setattr(objaverse, "BASE_PATH", objaverse.BASE_PATH)  # restored after the test
    monkeypatch.setattr(objaverse, "_VERSIONED_PATH", objaverse._VERSIONED_PATH)

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError(f"offline test: {url}")

    monkeypatch.setattr(urllib.request, "urlretrieve", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)

    root = tmp_path / "objaverse" / objaverse_source.VERSIONED_SUBDIR
    _gz_json(
        root / "object-paths.json.gz",
        {
            "aaa": "glbs/000-000/aaa.glb",
            "bbb": "glbs/000-000/bbb.glb",  # listed but never downloaded: fetching it needs the network
            "ccc": "glbs/000-001/ccc.glb",
        },
    )
    (root / "glbs" / "000-000").mkdir(parents=True)
    trimesh.creation.box().export(root / "glbs" / "000-000" / "aaa.glb")
    _gz_json(root / "lvis-annotations.json.gz", {"mug": ["ccc", "aaa", "bbb"], "chair": ["zzz"]})
    _gz_json(root / "metadata" / "000-000.json.gz", {"aaa": {"license": "by"}})
    return tmp_path / "objaverse"


@pytest.mark.filterwarnings("ignore:Could not find object")  # the package warns, then skips the uid
def test_objaverse_fetch_from_cache_and_failures(objaverse_cache):
    got = objaverse_source.fetch(["aaa", "bbb", "missing"], str(objaverse_cache), timeout_s=10)
    assert [f.uid for f in got] == ["aaa", "bbb", "missing"]
    aaa, bbb, missing = got
    assert aaa.error is None and aaa.license == "by" and aaa.path.is_file()
    assert len(local.load_mesh(aaa.path).faces) == 12
    assert bbb.path is None and "URLError" in bbb.error
    assert missing.path is None and "not found" in missing.error


def test_objaverse_licence_failure_keeps_object(objaverse_cache):
    glb = objaverse_cache / objaverse_source.VERSIONED_SUBDIR / "glbs" / "000-001" / "ccc.glb"
    glb.parent.mkdir(parents=True)
    trimesh.creation.box().export(glb)
    (ccc,) = objaverse_source.fetch(["ccc"], str(objaverse_cache), timeout_s=10)
    assert ccc.error is None and ccc.path == glb and ccc.license is None  # metadata shard 000-001 unreachable


def test_objaverse_timeout(objaverse_cache, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlretrieve", lambda *a, **k: time.sleep(2))
    start = time.monotonic()
    (bbb,) = objaverse_source.fetch(["bbb"], str(objaverse_cache), timeout_s=0.3)
    assert "timed out" in bbb.error and time.monotonic() - start < 1.5


def test_objaverse_select_uids(objaverse_cache):
    cache = str(objaverse_cache)
    assert objaverse_source.select_uids(["x", "y", "x"], [], 5) == ["x", "y"]
    assert objaverse_source.select_uids(["x", "y"], ["mug"], 1) == ["x"]
    assert objaverse_source.select_uids(["bbb"], ["mug"], 3, cache_dir=cache) == ["bbb", "aaa", "ccc"]
    assert objaverse_source.select_uids([], ["mug", "chair"], 3, cache_dir=cache) == ["aaa", "zzz", "bbb"]
    with pytest.raises(ValueError, match="teapot"):
        objaverse_source.select_uids([], ["teapot"], 3, cache_dir=cache)


@pytest.mark.filterwarnings("ignore:Could not find object")
def test_download_stage_from_objaverse_records_failed_downloads(objaverse_cache, tiny_cfg):
    from hypershape.paths import paths_of
    from hypershape.pipeline import run_stage
    from hypershape.runtime import load_json

    cfg = tiny_cfg(
        "data=objaverse",
        f"data.objaverse_cache={objaverse_cache}",
        "data.objaverse_uids=[aaa,bbb]",
        "data.objaverse_lvis=[]",
        "data.num_objects=2",
        "data.download_timeout_s=10",
    )
    result = run_stage("01_download", cfg)
    assert result["done"] == 1 and result["failed"] == 1
    objects = {o["id"]: o for o in load_json(paths_of(cfg).objects)}
    assert objects["aaa"]["status"] == "done" and objects["aaa"]["license"] == "by"
    assert objects["bbb"]["status"] == "failed" and "URLError" in objects["bbb"]["reason"]
    assert run_stage("02_watertight", cfg)["done"] == 1  # the downloaded .glb becomes a solid


# --- what the user must fix: one-line UserErrors ------------------------------------------------------


def local_data(folder, n=12):
    from conftest import make_cfg

    return make_cfg("data=local", f"data.local_dir={folder or 'null'}", f"data.num_objects={n}").data


def test_local_folder_problems_are_user_errors_naming_the_folder(tmp_path):
    cases = {
        tmp_path / "absent": "does not exist",
        tmp_path / "a_file.obj": "not a folder",
        tmp_path / "empty": "has no mesh files",
        tmp_path / "broken": "no mesh under",
    }
    trimesh.creation.box().export(tmp_path / "a_file.obj")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("companions are not meshes")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "garbage.ply").write_bytes(b"\x00\x01 not a mesh")
    (tmp_path / "broken" / "points.obj").write_text("v 0 0 0\nv 1 0 0\n")
    for folder, words in cases.items():
        with pytest.raises(UserError, match=words) as err:
            local.candidates(local_data(folder))
        assert str(folder) in str(err.value) and "\n" not in str(err.value), folder
    with pytest.raises(UserError, match="data.local_dir=/path"):
        local.candidates(local_data(None))


def test_local_more_meshes_than_asked_warns_with_both_counts(tmp_path, caplog):
    for i in range(5):
        trimesh.creation.box(extents=[1, 1, 1 + i]).export(tmp_path / f"box{i}.obj")
    (tmp_path / "bad.ply").write_bytes(b"not a mesh")  # listed first (by path); one good mesh is enough
    got = local.candidates(local_data(tmp_path, n=3))
    assert [c.id for c in got] == ["bad", "box0", "box1"]
    assert got[1].sha1 == local.file_sha1(tmp_path / "box0.obj") and len(got[1].load().faces) == 12
    assert "6 mesh files" in caplog.text and "data.num_objects=3" in caplog.text
    caplog.clear()
    assert len(local.candidates(local_data(tmp_path, n=6))) == 6 and "mesh files" not in caplog.text


def test_objaverse_unreachable_is_one_user_error(tmp_path, monkeypatch, tiny_cfg):
    """The network boundary refuses every request (as offline), with nothing cached: 01 stops with one line."""
    from hypershape.pipeline import run_stage

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError(f"[Errno -3] Temporary failure in name resolution: {url}")

    monkeypatch.setattr(objaverse, "BASE_PATH", objaverse.BASE_PATH)  # restored after the test
    monkeypatch.setattr(objaverse, "_VERSIONED_PATH", objaverse._VERSIONED_PATH)
    monkeypatch.setattr(urllib.request, "urlretrieve", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    cache = tmp_path / "cache"
    for overrides in (["data.objaverse_lvis=[mug]"], ["data.objaverse_uids=[aaa,bbb]", "data.objaverse_lvis=[]"]):
        cfg = tiny_cfg("data=objaverse", f"data.objaverse_cache={cache}", "data.num_objects=2", *overrides)
        with pytest.raises(UserError, match="cannot reach Objaverse") as err:
            run_stage("01_download", cfg)
        assert "\n" not in str(err.value) and "URLError" in str(err.value) and "data.objaverse_cache" in str(err.value)
