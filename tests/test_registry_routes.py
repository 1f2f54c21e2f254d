"""Routes come from the registry (routes/): the config's choices are its modules, an unknown route fails when
the config is composed, and a route added as one module plus its yaml runs through 70, 80 and 90."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import trimesh
from conftest import ROOT, copy_run, make_cfg, repo_copy
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf

from hypershape import provenance, routes
from hypershape.config import Route, route_names
from hypershape.experiments.routes import compared
from hypershape.metrics import headline
from hypershape.objects import Subset, load_objects
from hypershape.paths import Paths
from hypershape.runtime import load_json, load_torch
from hypershape.stage_specs import STAGES

# A route whose prediction is not a shape-SIREN: a sphere (centre x, y, z, radius) at the origin with the
# training objects' mean surface radius, which 80's refinement moves towards the object's own views.
SPHERE = '''"""Route sphere: a sphere at the origin whose radius is the training objects' mean surface radius."""

import numpy as np
import torch

from ..config import section
from ..runtime import load_torch, save_torch
from .base import Field, MapperRoute, Predictor


class SphereField(Field):
    def sdf(self, params, points):
        return (points - params[:3]).norm(dim=-1, keepdim=True) - params[3]


class MeanSphere(Predictor):
    def __init__(self, paths, device):
        self.params = torch.tensor([0.0, 0.0, 0.0, load_torch(paths.mapper)["radius"]], device=device)

    def predict(self, obj_id):
        return self.params.clone(), {}


class Sphere(MapperRoute):
    def inputs(self, cfg, data):
        return data.split(), sorted((i, data.upstream[i]["02_watertight"]) for i in data.train_ids)

    def make(self, cfg, data):
        p = data.stage.paths
        radii = [np.linalg.norm(np.load(p.surface(i))["points"], axis=1).mean() for i in data.train_ids]
        radius = float(np.mean(radii))
        save_torch(p.mapper, dict(route=self.name, radius=radius, config=section(cfg, "mapper")))
        return dict(train=len(data.train_ids), radius=radius)

    def predictor(self, cfg, paths, device):
        return MeanSphere(paths, device)

    def field(self, cfg, paths, device):
        return SphereField()


ROUTE = Sphere()
'''


def test_the_config_offers_exactly_the_route_modules_each_with_its_yaml():
    modules = {f.stem for f in (ROOT / "src/hypershape/routes").glob("*.py")} - {"__init__", "base"}
    assert set(route_names()) == modules >= {"latent", "direct", "probe", "hybrid"}
    assert [r.value for r in Route] == route_names()
    for name in route_names():
        assert routes.get(name).name == name
        assert OmegaConf.load(ROOT / "configs/mapper" / f"{name}.yaml").route == name
        assert make_cfg("preset=tiny", f"mapper={name}").mapper.route == Route[name]
    assert {f.stem for f in (ROOT / "configs/mapper").glob("*.yaml")} == modules


def test_an_unknown_route_fails_at_composition_naming_the_known_ones():
    known = ", ".join(route_names())
    with pytest.raises(ConfigCompositionException) as e:
        make_cfg("preset=tiny", "mapper.route=nosuch")
    assert f"Invalid value 'nosuch', expected one of [{known}]" in str(e.value.__cause__)
    with pytest.raises(MissingConfigException) as e:
        make_cfg("preset=tiny", "mapper=nosuch")
    assert all(f"\t{name}\n" in str(e.value) for name in route_names())
    with pytest.raises(ValueError, match=rf"^unknown mapper route 'nosuch'; the routes are {known}$"):
        routes.get("nosuch")


def test_a_route_module_is_code_of_the_stages_that_read_routes_only(tmp_path, monkeypatch):
    """No import statement names a route module (routes.get imports it by name), yet editing one makes
    70, 80 and 90 stale, and no stage before them."""
    copy = tmp_path / "hypershape"
    shutil.copytree(ROOT / "src/hypershape", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)
    stages = ("weight_ae", "mapper", "shape_sirens", "reconstruct")

    def codes() -> dict:
        provenance.code_version.cache_clear()
        return {s: provenance.code_version(f"hypershape.stages.{s}") for s in stages}

    try:
        before = codes()
        with open(copy / "routes/probe.py", "a") as f:
            f.write("# edited\n")
        after = codes()
    finally:
        provenance.code_version.cache_clear()  # the copy's versions must not outlive the test
    assert [s for s in stages if before[s] != after[s]] == ["mapper", "shape_sirens", "reconstruct"]


def test_a_config_field_is_no_stage_code_but_config_logic_is(tmp_path, monkeypatch):
    """A field added to one section of the schema (or a field's docs edited), or a new section with the blank
    lines around it, leaves every stage's code version as it was: the values a stage reads enter its key as
    config. An edit to the module's functions makes every stage stale."""
    copy = tmp_path / "hypershape"
    shutil.copytree(ROOT / "src/hypershape", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)
    config = copy / "config.py"
    source = config.read_text()

    def codes(text: str) -> list[str]:
        config.write_text(text)
        provenance.code_version.cache_clear()
        return [provenance.stage_code(s) for s in STAGES]

    field = '    """Training objects per step, drawn anew each step (0 = all): bounds a step\'s cost."""\n'
    assert source.count(field) == 1 and source.count("def readout_seed(cfg: Any) -> int:\n") == 1
    try:
        before = codes(source)
        added = codes(source.replace(field, field + '    members: int = 3\n    """Networks averaged."""\n'))
        section = "@dataclass\nclass ExperimentConfig:"
        new = '@dataclass\nclass NewExperiment:\n    """New."""\n\n    steps: int = 1\n    """Steps."""\n\n\n'
        assert source.count(section) == 1
        sectioned = codes(source.replace(section, new + section))
        logic = codes(
            source.replace("def readout_seed(cfg: Any) -> int:\n", "def readout_seed(cfg: Any) -> int:\n    pass\n")
        )
    finally:
        provenance.code_version.cache_clear()
    assert added == before and sectioned == before
    assert all(a != b for a, b in zip(logic, before))


@pytest.mark.slow
def test_a_route_added_as_one_module_and_its_yaml_runs_through_70_80_and_90(tiny_run, tmp_path):
    """The user's way: a copy of the repository with routes/sphere.py and configs/mapper/sphere.yaml added,
    run as a script; 01-60 are made beforehand by the package as it is (the shared tiny run's, copied: the
    copy of the repository finds them current)."""
    cfg = copy_run(tiny_run[0], tmp_path / "data", until="60_weight_ae")
    repo, env = repo_copy(tmp_path, "run_pipeline.py", "experiment.py")
    (repo / "src/hypershape/routes/sphere.py").write_text(SPHERE)
    (repo / "configs/mapper/sphere.yaml").write_text("route: sphere\n")
    args = [sys.executable, "run_pipeline.py", "preset=tiny", f"data_dir={tmp_path / 'data'}", "mapper=sphere"]
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]

    p = Paths(cfg.data_dir, cfg.name, route="sphere")
    objects = load_objects(p.objects)
    summary = load_json(p.summary_json)
    assert summary["route"] == "sphere" and not summary["failed"]
    for kind in ("predicted", "refined"):
        assert sorted(r["id"] for r in summary["rows"] if r["kind"] == kind) == sorted(o.id for o in objects)
    train = [o.id for o in objects if o.split == Subset.train]
    radii = [np.linalg.norm(np.load(p.surface(i))["points"], axis=1).mean() for i in train]
    radius = load_torch(p.mapper)["radius"]
    assert radius == pytest.approx(float(np.mean(radii)))
    cell = 2 * cfg.reconstruct.bound / cfg.reconstruct.resolution
    for o in objects:
        saved = load_torch(p.shape_sirens(o.id))
        assert torch.allclose(saved["predicted"], torch.tensor([0.0, 0.0, 0.0, radius]))
        # 90 meshed the route's own field: the predicted mesh is that sphere
        mesh = trimesh.load(p.mesh(o.id, "predicted"), force="mesh")
        assert np.abs(np.linalg.norm(mesh.vertices, axis=1) - radius).max() < cell
        # 80 refined the sphere's parameters through its field: from the outlines, and with the depth maps
        # (on tiny a sphere's few steps rarely move its outline by a pixel; the depth error shows them)
        for kind, accepted in (("refined", "refine_accepted"), ("oracle_depth", "oracle_depth_accepted")):
            if saved[accepted]:
                assert not torch.equal(saved[kind], saved["predicted"])
                assert saved[f"silhouette_iou_{kind}"] >= saved["silhouette_iou_predicted"]
            else:
                assert torch.equal(saved[kind], saved["predicted"])
    assert any(load_torch(p.shape_sirens(o.id))["oracle_depth_accepted"] for o in objects)

    # ... and in an experiment's table, beside a built-in route
    args = [sys.executable, "experiment.py", "preset=tiny", f"data_dir={tmp_path / 'data'}", "experiment=routes"]
    args += ["experiment.routes.seeds=[0]", "experiment.routes.routes=[latent,sphere]"]
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    table = load_json(p.experiment("routes") / "table.json")
    shown = {(r["split"], r["SIREN"], r["route"]) for r in table["rows"]}
    assert {(s, k, "sphere") for s in ("train", "test") for k in ("predicted", "refined")} <= shown
    # the sphere's own summary gives that row's figure (one seed: the value itself, 4 significant digits)
    fscore = headline(cfg.reconstruct.taus)
    own = next(r for r in summary["summary"] if (r["split"], r["kind"]) == ("test", "predicted"))
    row = next(r for r in table["rows"] if (r["split"], r["SIREN"], r["route"]) == ("test", "predicted", "sphere"))
    assert float(row[fscore.label]) == pytest.approx(own[fscore.summary_key], rel=1e-3)


def test_the_routes_experiment_compares_the_chosen_routes_or_every_registered_one():
    assert compared(make_cfg()) == tuple(r.value for r in Route)
    assert compared(make_cfg("experiment.routes.routes=[probe,latent]")) == ("probe", "latent")
    with pytest.raises(ValueError, match="unknown route nope"):
        compared(make_cfg("experiment.routes.routes=[latent,nope]"))
