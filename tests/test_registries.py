"""Adding a metric or a source is one place: a metric spec registered once is computed by 90 and shown in
its summary and in an experiment table; a source module (+ its yaml) is chosen by data.source and runs 01.
reconstruct.taus sets the F-score columns everywhere; 02's key holds exactly the data fields 02 reads."""

import ast
import subprocess
import sys

import numpy as np
import pytest
import trimesh
from conftest import ROOT, make_cfg, repo_copy
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from hypershape import metrics
from hypershape.config import Route
from hypershape.errors import UserError
from hypershape.experiments import run_experiment
from hypershape.experiments.baseline import ORACLE
from hypershape.experiments.common import variant
from hypershape.objects import load_objects
from hypershape.paths import Paths, paths_of
from hypershape.pipeline import run_all
from hypershape.provenance import object_config
from hypershape.records import fingerprint
from hypershape.runtime import load_json
from hypershape.stage_specs import WATERTIGHT_DATA

TAUS = [0.005, 0.05]
AREA = metrics.Metric("area_ratio", "area ratio", fmt="{:.4f}", compute=lambda s: s.mesh.area / s.truth["mesh"].area)


@pytest.fixture(scope="module")
def run(made_tiny_run):
    """The tiny pipeline and the baseline experiment, with other taus and one metric registered here: a run
    branched from the shared tiny run (90 is made again)."""
    metrics.register(AREA)
    try:
        cfg = variant(made_tiny_run[0], "taus", **{"reconstruct.taus": TAUS})
        run_all(cfg)
        cfg.experiment.name = "baseline"
        run_experiment(cfg)
        yield cfg
    finally:
        metrics.unregister(AREA.key)


def header(md: str) -> list[str]:
    line = next(line for line in md.splitlines() if line.startswith("| split"))
    return [c.strip() for c in line.strip("|").split("|")]


@pytest.mark.slow
def test_taus_set_the_fscore_columns_of_the_summary_and_the_baseline(run):
    p = paths_of(run)
    cols = header(p.summary_md.read_text())
    assert [c for c in cols if c.startswith("F@")] == ["F@0.005", "F@0.05"]
    baseline = load_json(p.experiment("baseline") / "table.json")
    assert {"F@0.005", "F@0.05"} <= set(baseline["columns"]) and "F@0.02" not in baseline["columns"]
    for row in load_json(p.summary_json)["rows"]:
        assert row["fscore_0.005"] <= row["fscore_0.05"]  # a looser tolerance never scores lower


@pytest.mark.slow
def test_a_registered_metric_is_computed_by_90_and_shown_in_the_summary_and_an_experiment(run):
    p = paths_of(run)
    summary = load_json(p.summary_json)
    for row in summary["rows"]:  # the ratio of the saved mesh's area to the solid's
        mesh = trimesh.load(p.mesh(row["id"], row["kind"]), force="mesh", process=False)
        solid = trimesh.load(p.solid(row["id"]), force="mesh", process=False)
        assert row["area_ratio"] == pytest.approx(mesh.area / solid.area, rel=1e-4)
    cols = header(p.summary_md.read_text())
    assert cols[-1] == "area ratio"  # registered last, shown last
    lines = [line for line in p.summary_md.read_text().splitlines() if line.startswith("| ")][1:]  # not the header
    assert len(lines) == len(summary["summary"])
    for s, line in zip(summary["summary"], lines):
        rows = [r for r in summary["rows"] if (r["split"], r["kind"]) == (s["split"], s["kind"])]
        assert s["median_area_ratio"] == pytest.approx(np.median([r["area_ratio"] for r in rows]))
        assert line.rstrip(" |").endswith(f"{s['median_area_ratio']:.4f}")
    assert "area_ratio" in p.metrics_csv.read_text().splitlines()[0]
    # the baseline experiment's table shows it too: per (split, SIREN) the median over objects
    baseline = load_json(p.experiment("baseline") / "table.json")
    assert "area ratio" in baseline["columns"]
    for t in baseline["rows"]:
        if t["SIREN"] in ("retrieval", ORACLE):  # the baselines' own per-object rows
            rows = [
                r for r in baseline["retrieved" if t["SIREN"] == "retrieval" else "oracle"] if r["split"] == t["split"]
            ]
        else:
            rows = [r for r in summary["rows"] if (r["split"], r["kind"]) == (t["split"], t["SIREN"])]
        assert t["area ratio"] == pytest.approx(np.median([r["area_ratio"] for r in rows]))


def test_a_registered_key_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="already registered"):
        metrics.register(metrics.Metric("iou", "IoU again"))


# ---------------------------------------------------------------- sources
BOXES = '''"""A source of boxes, one taller than the other."""

import trimesh

from hypershape.sources import Candidate

HAS_FAMILIES = False


def candidates(data):
    return [
        Candidate(id=f"box{i}", source="boxes", ref=f"height {h}", load=lambda h=h: trimesh.creation.box([1, 1, h]))
        for i, h in enumerate(range(1, data.num_objects + 1))
    ]
'''


@pytest.mark.slow  # 01 as a script, in a subprocess
def test_a_source_is_one_module_and_one_yaml(tmp_path):
    """A new module under sources/ and its configs/data yaml: data=<it> composes and 01 lists and saves its meshes."""
    name = "boxes_of_this_test"
    repo, env = repo_copy(tmp_path, "01_download.py")
    (repo / "src" / "hypershape" / "sources" / f"{name}.py").write_text(BOXES)
    (repo / "configs" / "data" / f"{name}.yaml").write_text(f"source: {name}\n")
    args = ["preset=tiny", f"data={name}", "data.num_objects=2", "data.test_fraction=0.5", f"data_dir={tmp_path}"]
    done = subprocess.run([sys.executable, "01_download.py", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    p = Paths(tmp_path, "tiny")
    objects = load_objects(p.objects)
    assert [(o.id, o.source, o.ref, o.status) for o in objects] == [
        ("box0", "boxes", "height 1", "done"),
        ("box1", "boxes", "height 2", "done"),
    ]
    raw = trimesh.load(p.root / objects[1].raw, force="mesh")
    assert raw.extents.tolist() == pytest.approx([1, 1, 2])


def test_an_unknown_source_fails_at_composition_naming_the_known_ones():
    with pytest.raises(ConfigCompositionException, match="data.source=nope") as err:
        make_cfg("data.source=nope")
    assert "Invalid value 'nope', expected one of [local, objaverse, procedural]" in str(err.value.__cause__)


@pytest.mark.parametrize("routes", ["[latent,nope]", "[latent,latent]"])
def test_a_bad_learning_curve_route_fails_before_any_work_naming_the_known_ones(tmp_path, routes):
    cfg = make_cfg(
        "preset=tiny", f"data_dir={tmp_path}", "experiment=learning_curve", f"experiment.learning_curve.routes={routes}"
    )
    with pytest.raises(UserError, match="experiment.learning_curve.routes") as err:
        run_experiment(cfg)
    if "nope" in routes:  # the registry's names, every one of them
        assert f"the routes are {', '.join(Route.__members__)}" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no stage ran: not even 01's object list


# ---------------------------------------------------------------- 02's key
def test_02_key_is_the_data_fields_02_reads():
    # the fields stages/watertight.py reads off the data section (`d.<field>`); faithfulness_bar only warns
    tree = ast.parse((ROOT / "src" / "hypershape" / "stages" / "watertight.py").read_text())
    read = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and getattr(n.value, "id", None) == "d"}
    assert read - {"faithfulness_bar"} == set(WATERTIGHT_DATA)
    # the keys of runs made before the allow-list (default and tiny presets) are unchanged
    assert fingerprint(object_config(make_cfg(), "02_watertight")) == "cf3cb0e34384b82f"
    assert fingerprint(object_config(make_cfg("preset=tiny"), "02_watertight")) == "ec948ac94ea769fc"


def test_a_new_data_field_leaves_02_up_to_date_and_a_read_one_does_not():
    base = object_config(make_cfg("preset=tiny"), "02_watertight")
    cfg = make_cfg("preset=tiny", "data.num_objects=7", "data=local", "data.local_dir=/x", "data.train_limit=3")
    cfg = OmegaConf.create(OmegaConf.to_container(cfg))  # untyped: a field the schema does not have yet
    cfg.data.a_field_added_later = 1.5
    assert object_config(cfg, "02_watertight") == base
    assert object_config(make_cfg("preset=tiny", "data.beta=31"), "02_watertight") != base
