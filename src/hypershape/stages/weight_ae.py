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
from ..runtime import Stage, device_of, generator, load_torch, save_json, save_torch
from ..training import ItemLosses, fit_flat, fit_sdf, sdf_batch, sdf_l1, train
from .common import load_samples, readout_train, shape_spec, shared_from_train

SHELL_STD = 0.05
"""Half of the anchor's SDF samples lie within about this distance of its sphere (Gaussian spread), where
the zero level set is learnt; the other half fill the unit ball so the field is an SDF everywhere."""


def sphere_batch(n: int, radius: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Points half uniform in the unit ball, half near a sphere of `radius`, with the sphere's SDF."""
    d = F.normalize(torch.randn(n, 3, generator=gen), dim=-1)
    r = torch.cat(
        [torch.rand(n // 2, generator=gen) ** (1 / 3), radius + SHELL_STD * torch.randn(n - n // 2, generator=gen)]
    )
    x = d * r[:, None]
    return x, x.norm(dim=-1) - radius


def mean_pairwise_cosine(x: torch.Tensor) -> float:
    """Mean cosine similarity over all pairs of rows."""
    if len(x) < 2:
        return float("nan")
    u = F.normalize(x, dim=-1)
    sims = [float(u[i] @ u[j]) for i, j in itertools.combinations(range(len(u)), 2)]
    return float(np.mean(sims))


def run(cfg) -> dict:
    stage = Stage(cfg, "60_weight_ae", upstream=("02_watertight",))
    p, c, a = stage.paths, cfg.shape_siren, cfg.weight_ae
    dev = device_of(cfg)
    spec = shape_spec(cfg)
    objects = stage.objects()
    shape_conf = {k: v for k, v in section(cfg, "shape_siren").items() if k != "refine"}
    ae_conf = section(cfg, "weight_ae")

    def make_anchor():
        gen = generator(cfg.seed, "60", "anchor")

        def loss(f, s):
            x, y = sphere_batch(c.batch_points, c.anchor_radius, gen)
            return sdf_l1(spec, f, x[None].to(dev), y[None].to(dev))

        flat, curve = fit_flat(
            spec.init(generator(cfg.seed, "60", "init"))[None].to(dev),
            loss,
            c.anchor_steps,
            c.anchor_lr,
            "anchor shape-SIREN",
        )
        stage.keep_shared_curve("anchor", curve)
        save_torch(p.shape_anchor, dict(flat=flat[0].cpu(), spec=spec, config=shape_conf, loss=curve[-1]))
        stage.log.info(
            "anchor shape-SIREN (sphere r=%.2f): %d weights, L1 %.4g", c.anchor_radius, spec.numel, curve[-1]
        )
        return dict(loss=curve[-1])

    anchor_key = stage.shared("anchor", p.shape_anchor, make_anchor)["key"]
    anchor = load_torch(p.shape_anchor)["flat"].to(dev)

    def work(objs):
        data = [load_samples(p, o["id"]) for o in objs]
        if a.shared_anchor:
            flat0 = anchor.expand(len(objs), -1)
        else:  # the ablation: every target from its own random init
            flat0 = torch.stack([spec.init(generator(cfg.seed, "60", "init", o["id"])) for o in objs]).to(dev)
        gens = [generator(cfg.seed, "60", o["id"]) for o in objs]
        items = ItemLosses()
        flats, curve = fit_sdf(spec, flat0, data, gens, c, "+".join(o["id"] for o in objs), items)
        out = {}
        for o, flat, own in zip(objs, flats, items.curves()):
            stage.keep_curve(o["id"], "target", own)
            out[o["id"]] = dict(
                surface_error=surface_error(
                    siren_field(spec, flat, flat.device, cfg.device.eval_chunk), np.load(p.surface(o["id"]))["points"]
                ),
                loss_last=curve[-1],
            )
        for o, flat in zip(objs, flats):  # written last, once nothing of the batch can fail any more
            save_torch(
                p.target(o["id"]),
                dict(flat=flat.cpu(), spec=spec, config=shape_conf, surface_error=out[o["id"]]["surface_error"]),
            )
        return out

    stage.run_objects(
        objects, outputs=lambda o: [p.target(o["id"])], work=work, batch=max(1, c.batch), shared={"anchor": anchor_key}
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

    done = [o for o in objects if stage.manifest.is_done(o["id"])]
    readout = set(readout_train(cfg, objects))  # every train object, or data.train_limit of them
    train_objs = [o for o in done if o["id"] in readout]
    seed = readout_seed(cfg)
    flats = {o["id"]: load_torch(p.target(o["id"]))["flat"].to(dev) for o in done}

    def make_ae():
        torch.manual_seed(seed)
        ae = WeightAE.of(a, spec, anchor).to(dev)
        w = torch.stack([flats[o["id"]] for o in train_objs])
        ae.fit_standardiser(w)
        data = [load_samples(p, o["id"]) for o in train_objs]
        gens = [generator(seed, "60", "ae", o["id"]) for o in train_objs]
        pick = generator(seed, "60", "ae", "batch")
        per_step = min(a.batch_objects or len(train_objs), len(train_objs))

        def loss(s):
            # a minibatch of training objects per step: a step would otherwise cost ~N (80 objects x 2,048
            # points through a SIREN); with no more objects than the batch, every step takes them all
            rows = torch.randperm(len(train_objs), generator=pick)[:per_step].sort().values.tolist()
            rec = ae.decode(ae.encode(w[rows]))
            total = ((ae.norm(rec - ae.anchor) - ae.norm(w[rows] - ae.anchor)) ** 2).mean()
            if a.sdf_loss_weight > 0:
                points, sdf = sdf_batch([data[i] for i in rows], a.sdf_points, [gens[i] for i in rows], dev)
                total = total + a.sdf_loss_weight * sdf_l1(spec, rec, points, sdf).mean()
            return total

        curve = train(ae.parameters(), loss, a.steps, a.lr, desc="weight autoencoder")
        stage.keep_shared_curve("weight_ae", curve)
        save_torch(
            p.weight_ae, dict(state=ae.state_dict(), spec=spec, config=ae_conf, train_ids=[o["id"] for o in train_objs])
        )
        stage.log.info(
            "weight autoencoder on %d train objects: loss %.4g -> %.4g", len(train_objs), curve[0], curve[-1]
        )
        return dict(loss_first=curve[0], loss_last=curve[-1], train_ids=[o["id"] for o in train_objs])

    # the autoencoder learns from the training objects whose target was made, and says which it left out
    used = {o["id"]: stage.manifest.key(o["id"]) for o in train_objs}
    left_out = {
        o["id"]: stage.manifest.get(o["id"])["reason"] for o in objects if o["id"] in readout and o["id"] not in used
    }
    ae_key = shared_from_train(stage, "weight_ae", p.weight_ae, make_ae, used, left_out)
    stage.shared(
        "latents",
        [p.latents, p.ae_diagnostics],
        lambda: latents_and_diagnostics(stage, spec, anchor, done, flats, ae_key),
        inputs=(ae_key, sorted(stage.manifest.key(o["id"]) for o in done)),
    )
    return stage.finish()


def latents_and_diagnostics(stage, spec, anchor, done: list[dict], flats: dict, ae_key: str) -> dict:
    """Every object's latent, and the diagnostics of the targets and the autoencoder."""
    p = stage.paths
    ckpt = load_torch(p.weight_ae)
    ae = WeightAE.load(ckpt, stage.cfg.weight_ae, anchor)
    diag = {"per_object": {}}
    latents = {}
    with torch.no_grad():
        for o in done:
            z = ae.encode(flats[o["id"]][None])
            rec = ae.decode(z)[0]
            latents[o["id"]] = z[0].cpu()
            diag["per_object"][o["id"]] = dict(
                split=o["split"],
                ae_trained=o["id"] in ckpt["train_ids"],
                target_surface_error=stage.manifest.get(o["id"])["surface_error"],
                ae_surface_error=surface_error(
                    siren_field(spec, rec, rec.device, stage.cfg.device.eval_chunk),
                    np.load(p.surface(o["id"]))["points"],
                ),
                ae_weight_mse=float(((rec - flats[o["id"]]) ** 2).mean()),
            )
    all_w = torch.stack([flats[o["id"]] for o in done]).cpu()
    diag["mean_pairwise_cosine_raw"] = mean_pairwise_cosine(all_w)
    diag["mean_pairwise_cosine_residual"] = mean_pairwise_cosine(all_w - anchor.cpu())
    for split in ("train", "test"):
        # train: what the autoencoder learnt from (a train object left out by data.train_limit is in neither)
        rows = [
            v for v in diag["per_object"].values() if (v["ae_trained"] if split == "train" else v["split"] == split)
        ]
        for k in ("target_surface_error", "ae_surface_error", "ae_weight_mse"):
            diag[f"{split}_median_{k}"] = float(np.median([r[k] for r in rows])) if rows else None
    save_json(p.ae_diagnostics, diag)
    save_torch(p.latents, dict(latents=latents, ae_key=ae_key))
    stage.log.info(
        "pairwise cosine: raw weights %.4f, anchor residuals %.4f; median target surface error %.4g",
        diag["mean_pairwise_cosine_raw"],
        diag["mean_pairwise_cosine_residual"],
        diag["train_median_target_surface_error"],
    )
    return dict(objects=len(done))
