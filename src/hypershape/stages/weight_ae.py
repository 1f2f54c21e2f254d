"""60_train_weight_ae: an anchor shape-SIREN (the SDF of a sphere), every object's target shape-SIREN
fitted to its SDF samples warm-started from the anchor, the weight autoencoder trained on the train split,
each object's latent, and diagnostics (surface error, pairwise cosine of raw weights and of residuals)."""
from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from ..config import section
from ..geometry.metrics import surface_error
from ..nets.siren import siren_field
from ..nets.weight_ae import WeightAE
from ..runtime import Stage, device_of, fingerprint, generator, load_torch, save_json, save_torch
from ..training import fit_flat, sdf_l1, train
from .common import load_samples, sdf_batch, shape_spec, split_key


def sphere_batch(n: int, radius: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Points half uniform in the unit ball, half near a sphere of `radius`, with the sphere's SDF."""
    d = F.normalize(torch.randn(n, 3, generator=gen), dim=-1)
    r = torch.cat([torch.rand(n // 2, generator=gen) ** (1 / 3),
                   radius + 0.05 * torch.randn(n - n // 2, generator=gen)])
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
        flat, curve = fit_flat(spec.init(generator(cfg.seed, "60", "init"))[None].to(dev), loss,
                               c.anchor_steps, c.lr * 10, "anchor shape-SIREN")
        save_torch(p.shape_anchor, dict(flat=flat[0].cpu(), spec=spec, config=shape_conf, loss=curve[-1]))
        stage.log.info("anchor shape-SIREN (sphere r=%.2f): %d weights, L1 %.4g", c.anchor_radius, spec.numel, curve[-1])
        return dict(loss=curve[-1])

    anchor_key = fingerprint(shape_conf, cfg.seed)
    stage.shared("anchor", anchor_key, p.shape_anchor, make_anchor)
    anchor = load_torch(p.shape_anchor)["flat"].to(dev)

    def work(objs):
        data = [load_samples(p, o["id"]) for o in objs]
        if a.shared_anchor:
            flat0 = anchor.expand(len(objs), -1)
        else:  # the ablation: every target from its own random init
            flat0 = torch.stack([spec.init(generator(cfg.seed, "60", "init", o["id"])) for o in objs]).to(dev)
        gen = generator(cfg.seed, "60", *[o["id"] for o in objs])
        def loss(f, s):
            return sdf_l1(spec, f, *sdf_batch(data, c.batch_points, gen, dev))
        flats, curve = fit_flat(flat0, loss, c.steps, c.lr, "+".join(o["id"] for o in objs))
        out = {}
        for o, flat in zip(objs, flats):
            err = surface_error(siren_field(spec, flat, dev), np.load(p.surface(o["id"]))["points"])
            save_torch(p.target(o["id"]), dict(flat=flat.cpu(), spec=spec, config=shape_conf, surface_error=err))
            out[o["id"]] = dict(surface_error=err, loss_last=curve[-1])
        return out

    target_conf = dict(shape_conf, shared_anchor=a.shared_anchor)
    stage.run_objects(objects, key_of=lambda o, ups: fingerprint(target_conf, anchor_key, cfg.seed, ups),
                      outputs=lambda o: [p.target(o["id"])], work=work, batch=max(1, c.batch))

    done = [o for o in objects if stage.manifest.is_done(o["id"])]
    train_objs = [o for o in done if o["split"] == "train"]
    if not train_objs:
        raise RuntimeError("no training object has a target shape-SIREN: the autoencoder has nothing to learn from")
    flats = {o["id"]: load_torch(p.target(o["id"]))["flat"].to(dev) for o in done}

    def make_ae():
        torch.manual_seed(cfg.seed)
        ae = WeightAE.of(a, spec, anchor).to(dev)
        w = torch.stack([flats[o["id"]] for o in train_objs])
        ae.fit_standardiser(w)
        data = [load_samples(p, o["id"]) for o in train_objs]
        gen = generator(cfg.seed, "60", "ae")
        def loss(s):
            z = ae.encode(w)
            rec = ae.decode(z)
            l = ((ae.norm(rec - ae.anchor) - ae.norm(w - ae.anchor)) ** 2).mean()
            if a.sdf_loss_weight > 0:
                l = l + a.sdf_loss_weight * sdf_l1(spec, rec, *sdf_batch(data, a.sdf_points, gen, dev)).mean()
            return l
        curve = train(ae.parameters(), loss, a.steps, a.lr, desc="weight autoencoder")
        save_torch(p.weight_ae, dict(state=ae.state_dict(), spec=spec, config=ae_conf,
                                     train_ids=[o["id"] for o in train_objs]))
        stage.log.info("weight autoencoder on %d train objects: loss %.4g -> %.4g", len(train_objs), curve[0], curve[-1])
        return dict(loss_first=curve[0], loss_last=curve[-1])

    ae_key = fingerprint(ae_conf, cfg.seed, sorted(stage.manifest.key(o["id"]) for o in train_objs),
                         split_key(objects))
    stage.shared("weight_ae", ae_key, p.weight_ae, make_ae)
    ae = WeightAE.of(a, spec, anchor).to(dev)
    ae.load_state_dict(load_torch(p.weight_ae)["state"])

    # latents and diagnostics are cheap and follow from the targets and the autoencoder: always remade
    diag = {"per_object": {}}
    latents = {}
    with torch.no_grad():
        for o in done:
            z = ae.encode(flats[o["id"]][None])
            rec = ae.decode(z)[0]
            latents[o["id"]] = z[0].cpu()
            diag["per_object"][o["id"]] = dict(
                split=o["split"], target_surface_error=stage.manifest.get(o["id"])["surface_error"],
                ae_surface_error=surface_error(siren_field(spec, rec, dev), np.load(p.surface(o["id"]))["points"]),
                ae_weight_mse=float(((rec - flats[o["id"]]) ** 2).mean()))
    save_torch(p.latents, dict(latents=latents, ae_key=ae_key))
    all_w = torch.stack([flats[o["id"]] for o in done]).cpu()
    diag["mean_pairwise_cosine_raw"] = mean_pairwise_cosine(all_w)
    diag["mean_pairwise_cosine_residual"] = mean_pairwise_cosine(all_w - anchor.cpu())
    for split in ("train", "test"):
        rows = [v for v in diag["per_object"].values() if v["split"] == split]
        for k in ("target_surface_error", "ae_surface_error", "ae_weight_mse"):
            diag[f"{split}_median_{k}"] = float(np.median([r[k] for r in rows])) if rows else None
    save_json(p.ae_diagnostics, diag)
    stage.log.info("pairwise cosine: raw weights %.4f, anchor residuals %.4f; median target surface error %.4g",
                   diag["mean_pairwise_cosine_raw"], diag["mean_pairwise_cosine_residual"],
                   diag["train_median_target_surface_error"])
    return stage.finish()
