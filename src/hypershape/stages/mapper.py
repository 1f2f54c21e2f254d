"""70_train_mapper: the mapper for the selected route, trained on the train split only.

Input: each object's whole hypernetwork weight vector, as its residual from the anchor hypernetwork,
every tensor divided by its RMS over the train split, then count-sketched (nets/mapper.py).
Output: the standardised latent (route=latent, and hybrid, which reads with latent's mapper) or the
standardised shape-SIREN residual (route=direct). Loss: the squared error of that output, plus, with
mapper.function_weight > 0, that weight times the mean |f - sdf| of the predicted shape-SIREN (through the
frozen decoder for latent) at a fixed subset of each training object's own 02 SDF samples.
Route probe trains nothing: its input space is the views each hypernetwork draws (nets/probe.py), kept
here as every object's features (retrieval looks up neighbours in them); 80 carves and fits per object."""

from __future__ import annotations

import torch

from ..config import Route, readout_seed, section
from ..nets.mapper import Mapper, count_sketch
from ..nets.probe import Prober
from ..nets.standardise import Standardiser, per_element, tensor_rms
from ..nets.weight_ae import WeightAE
from ..paths import SCRIPTS
from ..runtime import Stage, generator, load_torch, numerics_of, save_torch, seed_of
from ..training import sdf_l1, train
from .common import image_spec, load_samples, readout_train, shape_spec, split_key


def hypernet_vector(state: dict) -> tuple[torch.Tensor, list[int]]:
    """A hypernetwork's trainable weights as one vector (the anchor SIREN buffer left out), and tensor sizes."""
    tensors = [v.reshape(-1).float() for k, v in state.items() if k != "base"]
    return torch.cat(tensors), [t.numel() for t in tensors]


def hypernet_features(
    paths, ids: list[str], train_ids: list[str], dim: int, seed: int, copies: int = 1
) -> tuple[dict, torch.Tensor, list[tuple[str, torch.Tensor]]]:
    """Sketches of every object's hypernetwork residual; one object in memory at a time (an N=100
    hypernetwork is 72 MB). Returns {id: sketch}, the per-tensor scales (fitted on train_ids' first copies)
    and [(id, sketch)] of the train objects' other copies (hypernet.copies: more training examples)."""
    anchor, sizes = hypernet_vector(load_torch(paths.hypernet_anchor)["state"])
    scale = tensor_rms((hypernet_vector(load_torch(paths.hypernet(i))["state"])[0] - anchor for i in train_ids), sizes)
    full = per_element(scale, sizes)

    def sketch(path):
        return count_sketch(((hypernet_vector(load_torch(path)["state"])[0] - anchor) / full)[None], dim, seed)[0]

    feats = {i: sketch(paths.hypernet(i)) for i in ids}
    extra = [(i, sketch(paths.hypernet(i, k))) for i in train_ids for k in range(1, copies)]
    return feats, scale, extra


def function_samples(cfg, paths, ids: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
    """The SDF samples the function-space term reads: mapper.function_points of each object's 02 samples,
    drawn once without replacement from the object's own generator: points [B, N, 3], sdf [B, N]."""
    points, sdf = [], []
    for i in ids:
        x, y = load_samples(paths, i)
        pick = torch.randperm(len(x), generator=generator(cfg.seed, "mapper-function", i))[: cfg.mapper.function_points]
        points.append(x[pick])
        sdf.append(y[pick])
    return torch.stack(points).to(device), torch.stack(sdf).to(device)


def decoded(out: torch.Tensor, out_norm: Standardiser, anchor: torch.Tensor, ae=None) -> torch.Tensor:
    """The shape-SIREN weights [B, P] a mapper output (standardised) stands for, differentiably: the anchor
    plus the residual (route direct), or the decoder's weights from the latent (route latent: ae given)."""
    y = out_norm.inverse(out)
    return anchor + y if ae is None else ae.decode(y)


def probe_features(cfg, paths, ids: list[str], device) -> dict:
    """{id: the views its hypernetwork draws at mapper.probe.feature_resolution, flattened}."""
    prober = Prober(cfg, paths, image_spec(cfg), device)
    return {i: prober.images(i, cfg.mapper.probe.feature_resolution).reshape(-1).cpu() for i in ids}


def run(cfg) -> dict:
    stage = Stage(cfg, "70_mapper")
    p, c = stage.paths, cfg.mapper
    num = numerics_of(cfg)
    dev = num.device
    spec = shape_spec(cfg)
    objects = stage.objects()
    stage.wait_for(
        "every object's hypernetwork", lambda: stage.unrecorded("50_hypernets", objects), SCRIPTS["50_hypernets"]
    )
    stage.wait_for(
        "the autoencoder's latents",
        lambda: stage.unrecorded("60_weight_ae", objects, ("latents",)),
        SCRIPTS["60_weight_ae"],
    )
    ok, ups_of = [], {}
    for o in objects:
        ups = stage.upstream_keys(o["id"])
        if isinstance(ups, dict):
            ok.append(o)
            ups_of[o["id"]] = ups
        else:
            stage.fail(o, "", f"skipped, {ups}")
    readout = set(readout_train(cfg, objects))  # every train object, or data.train_limit of them
    train_ids = [o["id"] for o in ok if o["id"] in readout]
    if not train_ids:
        raise RuntimeError("no training object has both a hypernetwork and a target: nothing to train the mapper on")
    up50, up60 = stage.upstream["50_hypernets"], stage.upstream["60_weight_ae"]
    conf = section(cfg, "mapper")
    probe = c.route == Route.probe
    hypernets = sorted(up50.key(o["id"]) for o in ok)  # test objects' features are made here too
    if probe:  # the probed views read no latent and no target
        inputs = (split_key(objects), sorted(train_ids), hypernets)
    else:
        inputs = (
            split_key(objects),
            up60.key("latents", shared=True),
            sorted((i, up50.key(i), up60.key(i)) for i in train_ids),
            hypernets,
        )
        if c.function_weight > 0:  # the term reads the training objects' SDF samples
            inputs += (sorted((i, ups_of[i]["02_watertight"]) for i in train_ids),)

    def make_probe():
        feats = probe_features(cfg, p, [o["id"] for o in ok], dev)
        save_torch(p.mapper, dict(route=c.route, features=feats, train_ids=train_ids, config=conf))
        stage.log.info("probe route: the views of %d hypernetworks, nothing trained", len(feats))
        return dict(train=len(train_ids), train_ids=train_ids)

    def make():
        seed = seed_of(cfg.seed, "sketch")
        feats, hyper_scale, extra = hypernet_features(
            p, [o["id"] for o in ok], train_ids, c.sketch_dim, seed, cfg.hypernet.copies
        )
        examples = train_ids + [i for i, _ in extra]  # an object's other hypernetworks map to its same target
        x = torch.stack([feats[i] for i in train_ids] + [f for _, f in extra]).to(dev)
        anchor = load_torch(p.shape_anchor)["flat"].to(dev)
        learned = c.route.learned
        if learned == Route.latent:
            lat = load_torch(p.latents)["latents"]
            y_raw = torch.stack([lat[i] for i in examples]).to(dev)
            out_norm = Standardiser([y_raw.shape[1]]).to(dev).fit(y_raw, per_element_scale=True)
            out_sizes = [y_raw.shape[1]]
        else:
            targets = {i: load_torch(p.target(i))["flat"] for i in train_ids}
            y_raw = torch.stack([targets[i] for i in examples]).to(dev) - anchor
            out_norm = Standardiser(spec.sizes).to(dev).fit(y_raw)
            out_sizes = spec.sizes
        y = out_norm(y_raw)
        torch.manual_seed(readout_seed(cfg))
        mapper = Mapper(learned, c.sketch_dim, c.hidden, out_sizes, c.heads).to(dev)
        mapper.fit_input(x)
        function = None
        if c.function_weight > 0:  # the predicted shape-SIRENs' mean |f - sdf| at the objects' own samples
            ae = None
            if learned == Route.latent:  # the decoder is frozen: only the mapper learns
                ae = WeightAE.load(load_torch(p.weight_ae), cfg.weight_ae, anchor).requires_grad_(False)
            points, sdf = function_samples(cfg, p, train_ids, dev)
            row = torch.tensor([train_ids.index(i) for i in examples], device=dev)  # copies share samples
            points, sdf = points[row], sdf[row]

            def function(out):
                return sdf_l1(spec, decoded(out, out_norm, anchor, ae), points, sdf, num.compile).mean()

        def loss(s):
            out = mapper(x)
            total = ((out - y) ** 2).mean()
            return total + c.function_weight * function(out) if function else total

        curve = train(
            mapper.parameters(),
            loss,
            c.steps,
            c.lr,
            weight_decay=c.weight_decay,
            desc=f"mapper ({learned.value})",
            numerics=num,
        )
        stage.keep_shared_curve("mapper", curve)
        save_torch(
            p.mapper,
            dict(
                state=mapper.state_dict(),
                route=learned,
                out_sizes=out_sizes,
                out_norm=out_norm.state_dict(),
                hyper_scale=hyper_scale,
                sketch_seed=seed,
                features={i: f.cpu() for i, f in feats.items()},
                train_ids=train_ids,
                config=conf,
            ),
        )
        info = dict(
            loss_first=curve[0], loss_last=curve[-1], train=len(train_ids), examples=len(examples), train_ids=train_ids
        )
        said = ""
        if function:
            with torch.no_grad():
                info["sdf_l1_last"] = float(function(mapper(x)))
            said = f"; sdf L1 at their samples {info['sdf_l1_last']:.4g} (x function_weight {c.function_weight:g})"
        stage.log.info(
            "mapper (%s) on %d train objects (%d hypernetworks): loss %.4g -> %.4g%s",
            learned.value,
            len(train_ids),
            len(examples),
            curve[0],
            curve[-1],
            said,
        )
        return info

    made = stage.shared("mapper", p.mapper, make_probe if probe else make, inputs=inputs)
    for o in ok:  # per object, 70's output is its features and the mapper that reads them
        if not stage.manifest.is_current(o["id"], made["key"]):
            stage.manifest.done(
                o["id"], made["key"], (), dict(made["parts"], upstream=ups_of[o["id"]]), split=o["split"]
            )
            stage.counts["done"] += 1
        else:
            stage.counts["skipped"] += 1
    return stage.finish()
