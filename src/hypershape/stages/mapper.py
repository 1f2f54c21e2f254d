"""70_train_mapper: what the selected route (routes/<mapper.route>.py) learns from the train split, or keeps
of every object, for 80 to read objects with: one shared mapper.pt, written by the route. Every object whose
upstream stages made it is recorded against that artifact's key. A run with readout_from trains nothing here:
its mapper.pt is that run's, made to read this run's objects too (route.read_objects)."""

from __future__ import annotations

from .. import routes
from ..routes.base import TrainingSet
from ..runtime import Stage
from .common import readout_train


def training_set(cfg, stage: Stage) -> TrainingSet:
    """Waits for every hypernetwork and the autoencoder's latents; the objects every upstream stage made
    (the others recorded as skipped) and, among them, the training objects the readout learns from."""
    objects = stage.objects()
    stage.wait_for("every object's hypernetwork", "50_hypernets", objects)
    stage.wait_for("the autoencoder's latents", "60_weight_ae", objects, ("latents",))
    usable, upstream = [], {}
    for o in objects:
        failure = stage.upstream_failure(o.id)
        if failure:
            stage.fail(o, "", f"skipped, {failure}")
        else:
            usable.append(o)
            upstream[o.id] = stage.upstream_keys(o.id)
    readout = set(readout_train(cfg, objects))  # every train object, or data.train_limit of them
    train_ids = [o.id for o in usable if o.id in readout]
    if not train_ids and not stage.readout:  # a readout_from run trains nothing: its objects are all test
        raise RuntimeError("no training object has both a hypernetwork and a target: nothing to train the mapper on")
    return TrainingSet(stage, objects, usable, upstream, train_ids)


def run(cfg) -> dict:
    stage = Stage(cfg, "70_mapper")
    route = routes.get(cfg.mapper.route)
    data = training_set(cfg, stage)
    if stage.readout:  # the readout_from run's mapper, made to read this run's hypernetworks
        made = stage.take_shared("mapper", stage.paths.mapper, lambda: route.read_objects(cfg, data), data.hypernets())
    else:
        made = stage.shared("mapper", stage.paths.mapper, lambda: route.make(cfg, data), inputs=route.inputs(cfg, data))
    for o in data.usable:  # per object, 70's output is its features and what reads them
        if stage.manifest.is_current(o.id, made["key"]):
            stage.counts["skipped"] += 1
            continue
        parts = dict(made["parts"], upstream=data.upstream[o.id])
        stage.manifest.done(o.id, made["key"], (), parts, split=o.split)
        stage.counts["done"] += 1
    return stage.finish()
