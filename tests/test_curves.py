"""Loss curves: every fit keeps its curve, each stage's TensorBoard events hold the spread over objects per
step (read back with tensorboard's own reader), 90 draws the convergence figure, and reruns replace the
events instead of adding to them."""

import json

import numpy as np
import pytest
import torch
from conftest import copy_run
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from hypershape.curves import EVENTS_FILE, FIT_STAGES, figure, panels
from hypershape.objects import load_objects
from hypershape.paths import paths_of
from hypershape.pipeline import run_stage
from hypershape.runtime import Manifest, Stage, load_json
from hypershape.stage_specs import STAGES
from hypershape.training import ItemLosses, train

# per-object fits of the tiny latent run: stage -> (kind of fit, steps of each object's fit)
OBJECT_FITS = {
    "40_image_sirens": ("image_sirens", "image_siren.steps"),
    "50_hypernets": ("hypernet", "hypernet.steps"),
    "60_weight_ae": ("target", "shape_siren.steps"),
    "80_shape_sirens": ("refine", "shape_siren.refine.steps"),
}
# shared fits: (stage, artifact) -> steps
SHARED_FITS = {
    ("40_image_sirens", "anchor"): "image_siren.anchor_steps",
    ("50_hypernets", "anchor"): "hypernet.anchor_steps",
    ("60_weight_ae", "anchor"): "shape_siren.anchor_steps",
    ("60_weight_ae", "weight_ae"): "weight_ae.steps",
    ("70_mapper", "mapper"): "mapper.steps",
}


def test_item_losses_are_the_items_of_trains_mean_curve():
    """A batched fit's own curve per item: their mean is train's curve, with the step's parts summed."""
    torch.manual_seed(0)
    w = torch.randn(3, 5, requires_grad=True)
    target = torch.randn(3, 5) * torch.tensor([[1.0], [3.0], [10.0]])  # items far apart
    items = ItemLosses(parts=2)

    def loss(step, part):  # each part: half of each item's squared error
        cols = slice(part * 3, (part + 1) * 3)
        return ((w[:, cols] - target[:, cols]) ** 2).sum(1)

    start = ((w.detach()[:, :6] - target[:, :6]) ** 2).sum(1)  # both parts, before the first step
    curve = train([w], items.wrap(loss), steps=7, lr=0.1, parts=2)
    own = np.array(items.curves())
    assert own.shape == (3, 7)
    np.testing.assert_allclose(own[:, 0], start, rtol=1e-6)
    np.testing.assert_allclose(own.mean(0), curve, rtol=1e-6)


def stage_alone(cfg, name: str) -> Stage:
    """A Stage whose upstream stages have empty manifests: enough to keep and drop curves."""
    for up in STAGES[name].upstream:
        paths_of(cfg).manifest(up).mkdir(parents=True, exist_ok=True)
    return Stage(cfg, name)


def test_a_failed_object_loses_its_curves_and_keep_false_keeps_none(tiny_cfg):
    stage = stage_alone(tiny_cfg(), "50_hypernets")
    p = stage.paths
    for obj_id in ("a", "b"):
        stage.keep_curve(obj_id, "hypernet", [3.0, 2.0])
        stage.keep_curve(obj_id, "hypernet_copy1", [3.0, 1.0])
    stage.fail("a", "", "diverged")
    assert [f.exists() for f in p.curves_of("50_hypernets", "a")] == [False, False]
    assert [load_json(f)["loss"] for f in p.curves_of("50_hypernets", "b")] == [[3.0, 2.0], [3.0, 1.0]]
    quiet = stage_alone(tiny_cfg("curves.keep=false", "name=quiet"), "50_hypernets")
    quiet.keep_curve("a", "hypernet", [1.0])
    quiet.keep_shared_curve("anchor", [1.0])
    assert not (quiet.dir / "curves").exists()


def kept(cfg, stage: str, fit: str) -> dict[str, np.ndarray]:
    """{object id: its kept curve}, read straight from the files."""
    p = paths_of(cfg)
    return {o.id: np.array(json.loads(p.curve(stage, fit, o.id).read_text())["loss"]) for o in load_objects(p.objects)}


def scalars(cfg, stage: str) -> dict[str, list]:
    acc = EventAccumulator(str(paths_of(cfg).events(stage)), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: acc.Scalars(tag) for tag in acc.Tags()["scalars"]}


@pytest.mark.slow
def test_every_fit_keeps_its_curve_and_a_batch_keeps_each_objects_own(tiny_run):
    cfg, _ = tiny_run
    p = paths_of(cfg)
    for stage, (fit, steps) in OBJECT_FITS.items():
        curves = kept(cfg, stage, fit)
        assert len(curves) == 4 and {len(c) for c in curves.values()} == {cfg_value(cfg, steps)}, stage
    for (stage, artifact), steps in SHARED_FITS.items():
        assert len(load_json(p.shared_curve(stage, artifact))["loss"]) == cfg_value(cfg, steps)
    # 50 fits one object at a time: its curve ends where the record says
    m50 = Manifest(p.manifest("50_hypernets"), p.root)
    for i, c in kept(cfg, "50_hypernets", "hypernet").items():
        assert (c[0], c[-1]) == (m50.get(i)["loss_first"], m50.get(i)["loss_last"])
    # 60 fits its 4 targets in one batch (tiny: shape_siren.batch 4); the record holds the batch's mean
    assert cfg.shape_siren.batch == 4
    targets = kept(cfg, "60_weight_ae", "target")
    m60 = Manifest(p.manifest("60_weight_ae"), p.root)
    last = np.array([c[-1] for c in targets.values()])
    np.testing.assert_allclose(last.mean(), m60.get(next(iter(targets)))["loss_last"], rtol=1e-5)
    assert last.std() > 1e-3 * last.mean()  # each object's own, not the mean copied


def cfg_value(cfg, dotted: str):
    out = cfg
    for k in dotted.split("."):
        out = out[k]
    return out


@pytest.mark.slow
def test_events_hold_the_spread_of_the_kept_curves_per_step(tiny_run):
    cfg, _ = tiny_run
    for stage, (fit, steps) in OBJECT_FITS.items():
        got = scalars(cfg, stage)
        curves = np.stack(list(kept(cfg, stage, fit).values()))
        n = cfg_value(cfg, steps)
        for name, want in (
            ("median", np.median(curves, 0)),
            ("p10", np.percentile(curves, 10, 0)),
            ("p90", np.percentile(curves, 90, 0)),
        ):
            series = got[f"{stage}/{fit}/{name}"]
            assert [e.step for e in series] == list(range(n)), (stage, name)
            np.testing.assert_allclose([e.value for e in series], want, rtol=1e-6)  # float32 in the events
        own = [t for t in got if t.startswith(f"{stage}/{fit}/object/")]
        assert len(own) == cfg.curves.objects
    for stage, artifact in SHARED_FITS:
        series = scalars(cfg, stage)[f"{stage}/{artifact}"]
        want = load_json(paths_of(cfg).shared_curve(stage, artifact))["loss"]
        np.testing.assert_allclose([e.value for e in series], want, rtol=1e-6)


@pytest.mark.slow
def test_convergence_figure_has_a_log_panel_per_fit(tiny_run):
    import matplotlib.image

    cfg, _ = tiny_run
    p = paths_of(cfg)
    assert p.curves_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shown = panels(p)
    # 40, 50, 60's targets (each with its anchor), 60's autoencoder, 70's mapper, 80's refinement
    assert [s.title for s in shown] == [
        "40 image_sirens",
        "50 hypernet",
        "60 target",
        "60 weight_ae",
        "70 mapper",
        "80 refine",
    ]
    fig = figure(shown)
    assert len(fig.axes) == 6 and all(ax.get_yscale() == "log" for ax in fig.axes)
    median = np.median(np.stack(list(kept(cfg, "60_weight_ae", "target").values())), 0)
    drawn = [line.get_ydata() for line in fig.axes[2].lines]
    assert any(np.allclose(y, median) for y in drawn)
    assert any(np.allclose(y, load_json(p.shared_curve("60_weight_ae", "anchor"))["loss"]) for y in drawn)
    # the saved picture is that figure: 3 x 2 panels of 4 x 3 inches at 80 dpi
    assert matplotlib.image.imread(p.curves_png).shape[:2] == (480, 960)


@pytest.mark.slow
def test_rerunning_a_stage_replaces_its_events_with_the_same_bytes(tiny_run, tmp_path):
    cfg = copy_run(tiny_run[0], tmp_path)
    p = paths_of(cfg)
    files = {s: p.events(s) / EVENTS_FILE for s in FIT_STAGES}
    before = {s: (f.read_bytes(), f.stat().st_ino) for s, f in files.items()}
    run_stage("40_train_image_sirens", cfg)
    run_stage("70_train_mapper", cfg)
    for s in FIT_STAGES:
        assert [f.name for f in p.events(s).iterdir()] == [EVENTS_FILE]
        assert files[s].read_bytes() == before[s][0], s
    for s in ("40_image_sirens", "70_mapper"):  # written again (a new file renamed into place), not left alone
        assert files[s].stat().st_ino != before[s][1]
