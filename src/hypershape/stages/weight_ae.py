"""60_train_weight_ae: an anchor shape-SIREN (the SDF of a sphere), every object's target shape-SIREN
fitted to its SDF samples warm-started from the anchor, the weight autoencoder trained on the train split,
each object's latent, and diagnostics (surface error, pairwise cosine of raw weights and of residuals)."""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from ..config import readout_seed, section
from ..geometry.metrics import surface_error
from ..nets.siren import siren_field
from ..nets.weight_ae import WeightAE
from ..objects import RunObject, Subset
from ..runtime import Numerics, Stage, generator, load_torch, numerics_of, save_json, save_torch
from ..training import ItemLosses, fit_flat, fit_sdf, sdf_batch, sdf_l1, train
from .common import load_samples, readout_train, shape_spec, shared_from_train, solid_radius

SHELL_STD = 0.05
"""Half of the anchor's SDF samples lie within about this distance of its sphere (Gaussian spread), where
the zero level set is learnt; the other half fill the cube 90 meshes, so the field is an SDF everywhere."""


def sphere_batch(n: int, radius: float, gen: torch.Generator, bound: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points half uniform in the cube [-bound, bound]^3, half near a sphere of `radius`, with the sphere's
    SDF. The whole cube, corners included, because every target starts from the anchor and 90 meshes the
    cube: a field left free beyond the unit ball dips below zero there, and targets inherit it."""
    d = F.normalize(torch.randn(n - n // 2, 3, generator=gen), dim=-1)
    shell = d * (radius + SHELL_STD * torch.randn(n - n // 2, generator=gen))[:, None]
    x = torch.cat([(torch.rand(n // 2, 3, generator=gen) * 2 - 1) * bound, shell])
    return x, x.norm(dim=-1) - radius


def mean_pairwise_cosine(x: torch.Tensor) -> float:
    """Mean cosine similarity over all pairs of rows."""
    if len(x) < 2:
        return float("nan")
    u = F.normalize(x, dim=-1)
    sims = [float(u[i] @ u[j]) for i, j in itertools.combinations(range(len(u)), 2)]
    return float(np.mean(sims))


def shape_conf(cfg) -> dict:
    """The shape_siren section a target and the anchor are saved with (refinement is 80's)."""
    return {k: v for k, v in section(cfg, "shape_siren").items() if k != "refine"}


def make_anchor(stage: Stage, numerics: Numerics) -> dict:
    """The anchor shape-SIREN: a sphere of radius shape_siren.anchor_radius, fitted from a seeded init."""
    cfg, c, p, dev = stage.cfg, stage.cfg.shape_siren, stage.paths, numerics.device
    spec = shape_spec(cfg)
    gen = generator(cfg.seed, "60", "anchor")

    def loss(f, s):
        x, y = sphere_batch(c.batch_points, c.anchor_radius, gen, cfg.reconstruct.bound)
        return sdf_l1(spec, f, x[None].to(dev), y[None].to(dev), numerics.compile)

    flat, curve = fit_flat(
        spec.init(generator(cfg.seed, "60", "init"))[None].to(dev),
        loss,
        c.anchor_steps,
        c.anchor_lr,
        "anchor shape-SIREN",
        numerics=numerics,
    )
    stage.keep_shared_curve("anchor", curve)
    save_torch(p.shape_anchor, dict(flat=flat[0].cpu(), spec=spec, config=shape_conf(cfg), loss=curve[-1]))
    stage.log.info("anchor shape-SIREN (sphere r=%.2f): %d weights, L1 %.4g", c.anchor_radius, spec.numel, curve[-1])
    return dict(loss=curve[-1])


def fit_targets(stage: Stage, anchor: torch.Tensor, objs: list[RunObject], numerics: Numerics) -> dict:
    """The targets of a batch of objects, fitted to their SDF samples from the anchor (or, with
    weight_ae.shared_anchor off, each from its own random init), and their surface errors."""
    cfg, c, p, dev = stage.cfg, stage.cfg.shape_siren, stage.paths, numerics.device
    spec = shape_spec(cfg)
    data = [load_samples(p, o.id) for o in objs]
    if cfg.weight_ae.shared_anchor:
        flat0 = anchor.expand(len(objs), -1)
    else:  # the ablation: every target from its own random init
        flat0 = torch.stack([spec.init(generator(cfg.seed, "60", "init", o.id)) for o in objs]).to(dev)
    gens = [generator(cfg.seed, "60", o.id) for o in objs]
    items = ItemLosses()
    radii = [solid_radius(p, o.id) for o in objs]
    desc = "+".join(o.id for o in objs)
    flats, curve = fit_sdf(spec, flat0, data, radii, gens, c, cfg.reconstruct.bound, desc, numerics, items)
    out = {}
    for o, flat, own in zip(objs, flats, items.curves()):
        stage.keep_curve(o.id, "target", own)
        out[o.id] = dict(
            surface_error=surface_error(
                siren_field(spec, flat, dev, cfg.device.eval_chunk, numerics.compile),
                np.load(p.surface(o.id))["points"],
            ),
            loss_last=curve[-1],
        )
    for o, flat in zip(objs, flats):  # written last, once nothing of the batch can fail any more
        save_torch(
            p.target(o.id),
            dict(flat=flat.cpu(), spec=spec, config=shape_conf(cfg), surface_error=out[o.id]["surface_error"]),
        )
    return out


def make_weight_ae(stage: Stage, anchor: torch.Tensor, flats: dict, train_ids: list[str], numerics: Numerics) -> dict:
    """The weight autoencoder, trained on the targets (flats: {id: target}) of the objects train_ids."""
    cfg, a, p, dev = stage.cfg, stage.cfg.weight_ae, stage.paths, numerics.device
    spec, seed = shape_spec(cfg), readout_seed(cfg)
    torch.manual_seed(seed)
    ae = WeightAE.of(a, spec, anchor).to(dev)
    w = torch.stack([flats[i] for i in train_ids])
    ae.fit_standardiser(w)
    data = [load_samples(p, i) for i in train_ids]
    gens = [generator(seed, "60", "ae", i) for i in train_ids]
    pick = generator(seed, "60", "ae", "batch")
    per_step = min(a.batch_objects or len(train_ids), len(train_ids))

    def loss(s):
        # a minibatch of training objects per step: a step would otherwise cost one pass of every
        # training object's points through a SIREN; with no more objects than the batch, every step takes all
        rows = torch.randperm(len(train_ids), generator=pick)[:per_step].sort().values.tolist()
        rec = ae.decode(ae.encode(w[rows]))
        total = ((ae.norm(rec - ae.anchor) - ae.norm(w[rows] - ae.anchor)) ** 2).mean()
        if a.sdf_loss_weight > 0:
            points, sdf = sdf_batch([data[i] for i in rows], a.sdf_points, [gens[i] for i in rows], dev)
            total = total + a.sdf_loss_weight * sdf_l1(spec, rec, points, sdf, numerics.compile).mean()
        return total

    curve = train(ae.parameters(), loss, a.steps, a.lr, desc="weight autoencoder", numerics=numerics, shared=True)
    stage.keep_shared_curve("weight_ae", curve)
    conf = section(cfg, "weight_ae")
    save_torch(p.weight_ae, dict(state=ae.state_dict(), spec=spec, config=conf, train_ids=list(train_ids)))
    stage.log.info("weight autoencoder on %d train objects: loss %.4g -> %.4g", len(train_ids), curve[0], curve[-1])
    return dict(loss_first=curve[0], loss_last=curve[-1], train_ids=list(train_ids))


def run(cfg) -> dict:
    stage = Stage(cfg, "60_weight_ae")
    p, num = stage.paths, numerics_of(cfg)
    spec = shape_spec(cfg)
    objects = stage.objects()
    if stage.readout:  # the readout_from run's anchor: its targets and autoencoder start from it
        anchor_key = stage.take_shared("anchor", p.shape_anchor)["key"]
    else:
        anchor_key = stage.shared("anchor", p.shape_anchor, lambda: make_anchor(stage, num))["key"]
    anchor = load_torch(p.shape_anchor)["flat"].to(num.device)
    stage.run_objects(
        objects,
        outputs=lambda o: [p.target(o.id)],
        work=lambda objs: fit_targets(stage, anchor, objs, num),
        batch=max(1, cfg.shape_siren.batch),
        shared={"anchor": anchor_key},
    )
    pending = stage.pending(objects, shared={"anchor": anchor_key})
    if pending:  # sharded: the job that makes the last target makes the autoencoder
        stage.log.info(
            "the autoencoder waits for %d targets of other shards (e.g. %s); the job that makes the "
            "last of them makes it",
            len(pending),
            pending[0],
        )
        return stage.finish()

    done = [o for o in objects if stage.manifest.is_done(o.id)]
    readout = set(readout_train(cfg, objects))  # every train object, or data.train_limit of them
    train_ids = [o.id for o in done if o.id in readout]
    flats = {o.id: load_torch(p.target(o.id))["flat"].to(num.device) for o in done}

    # the autoencoder learns from the training objects whose target was made, and says which it left out
    used = {i: stage.manifest.key(i) for i in train_ids}
    left_out = {o.id: stage.manifest.get(o.id)["reason"] for o in objects if o.id in readout and o.id not in used}
    make_ae = lambda: make_weight_ae(stage, anchor, flats, train_ids, num)  # noqa: E731
    ae_key = shared_from_train(stage, "weight_ae", p.weight_ae, make_ae, used, left_out)
    stage.shared(
        "latents",
        [p.latents, p.ae_diagnostics],
        lambda: latents_and_diagnostics(stage, spec, anchor, done, flats, ae_key, num),
        inputs=(ae_key, sorted(stage.manifest.key(o.id) for o in done)),
    )
    return stage.finish()


def latents_and_diagnostics(
    stage, spec, anchor, done: list[RunObject], flats: dict, ae_key: str, numerics: Numerics
) -> dict:
    """Every object's latent, and the diagnostics of the targets and the autoencoder."""
    p = stage.paths
    ckpt = load_torch(p.weight_ae)
    ae = WeightAE.load(ckpt, stage.cfg.weight_ae, anchor)
    diag = {"per_object": {}}
    latents = {}
    with torch.no_grad():
        for o in done:
            z = ae.encode(flats[o.id][None])
            rec = ae.decode(z)[0]
            latents[o.id] = z[0].cpu()
            diag["per_object"][o.id] = dict(
                split=o.split,
                ae_trained=o.id in ckpt["train_ids"],
                target_surface_error=stage.manifest.get(o.id)["surface_error"],
                ae_surface_error=surface_error(
                    siren_field(spec, rec, rec.device, stage.cfg.device.eval_chunk, numerics.compile),
                    np.load(p.surface(o.id))["points"],
                ),
                ae_weight_mse=float(((rec - flats[o.id]) ** 2).mean()),
            )
    all_w = torch.stack([flats[o.id] for o in done]).cpu()
    diag["mean_pairwise_cosine_raw"] = mean_pairwise_cosine(all_w)
    diag["mean_pairwise_cosine_residual"] = mean_pairwise_cosine(all_w - anchor.cpu())
    for split in Subset:
        # train: what the autoencoder learnt from (a train object left out by data.train_limit is in neither)
        trained = split == Subset.train
        rows = [v for v in diag["per_object"].values() if (v["ae_trained"] if trained else v["split"] == split)]
        for k in ("target_surface_error", "ae_surface_error", "ae_weight_mse"):
            diag[f"{split}_median_{k}"] = float(np.median([r[k] for r in rows])) if rows else None
    save_json(p.ae_diagnostics, diag)
    save_torch(p.latents, dict(latents=latents, ae_key=ae_key))
    split = Subset.train if diag["train_median_target_surface_error"] is not None else Subset.test  # readout_from
    stage.log.info(
        "pairwise cosine: raw weights %.4f, anchor residuals %.4f; median %s target surface error %.4g",
        diag["mean_pairwise_cosine_raw"],
        diag["mean_pairwise_cosine_residual"],
        split,
        diag[f"{split}_median_target_surface_error"],
    )
    return dict(objects=len(done))
