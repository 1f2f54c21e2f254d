"""50_train_hypernets: an anchor hypernetwork fitted to a neutral target (for each view, the mean of the
training objects' SIRENs of that view), then one hypernetwork per object warm-started from it, with the
same step count for train and test objects."""

from __future__ import annotations

import torch

from ..config import section
from ..nets.hypernet import HyperNet
from ..nets.siren import pixel_grid, psnr, siren_forward
from ..nets.standardise import Standardiser
from ..runtime import Numerics, Stage, generator, load_torch, numerics_of, save_torch
from ..training import train
from .common import image_spec, load_views, shared_from_train, train_upstream


def hypernet_loss(net: HyperNet, dirs, targets, scale, rgb, coords, c, gen, compiled: bool = False):
    """Weight MSE (per-tensor standardised) + image loss of the views the emitted SIRENs draw (their forward
    compiled where the device's numerics say so)."""
    pred = net(dirs)
    loss = (((pred - targets) / scale) ** 2).mean()
    if c.image_loss_weight > 0:
        n = min(c.pixels_per_step, coords.shape[0])
        idx = torch.randint(coords.shape[0], (n,), generator=gen).to(coords.device)
        img = siren_forward(net.target, pred, coords[idx], compiled)
        loss = loss + c.image_loss_weight * ((img - rgb[:, idx]) ** 2).mean()
    return loss


def score_hypernet(net: HyperNet, dirs, targets, rgb, coords, compiled: bool = False) -> dict:
    """How well a hypernetwork emits an object's SIRENs: weight MSE against them, and the PSNR of the views
    the emitted SIRENs draw (mean and worst view)."""
    with torch.no_grad():
        pred = net(dirs)
        q = psnr(siren_forward(net.target, pred, coords, compiled), rgb)
    return dict(weight_mse=float(((pred - targets) ** 2).mean()), psnr_mean=float(q.mean()), psnr_min=float(q.min()))


def fit_hypernet(net: HyperNet, data: tuple, coords, c, gen, steps: int, desc: str, numerics: Numerics):
    """Train `net` for `steps` on data = (directions, target SIRENs, their scale, views) and score it:
    (loss curve, score_hypernet)."""
    dirs, targets, scale, rgb = data
    curve = train(
        net.parameters(),
        lambda s: hypernet_loss(net, dirs, targets, scale, rgb, coords, c, gen, numerics.compile),
        steps,
        c.lr,
        desc=desc,
        numerics=numerics,
    )
    return curve, score_hypernet(net, dirs, targets, rgb, coords, numerics.compile)


def make_anchor(stage: Stage, loaded: list[tuple], anchor_img, coords, numerics: Numerics) -> dict:
    """The anchor hypernetwork: fitted to the mean of the training objects' image-SIRENs and views
    (loaded: (directions, image-SIRENs, views) of each), its weight loss scaled per tensor by their spread."""
    cfg, c, p = stage.cfg, stage.cfg.hypernet, stage.paths
    spec, dev = image_spec(cfg), numerics.device
    dirs = loaded[0][0]
    flats = torch.stack([f for _, f, _ in loaded])  # [N, V, P]
    norm = Standardiser(spec.sizes).to(dev).fit((flats - anchor_img).reshape(-1, spec.numel))
    targets, rgb = flats.mean(0), torch.stack([r for _, _, r in loaded]).mean(0)
    torch.manual_seed(cfg.seed)
    net = HyperNet.of(c, spec, anchor_img).to(dev)
    gen = generator(cfg.seed, "50", "anchor")
    data = (dirs, targets, norm.scale, rgb)
    curve, ev = fit_hypernet(net, data, coords, c, gen, c.anchor_steps, "anchor hypernet", numerics)
    stage.keep_shared_curve("anchor", curve)
    conf = section(cfg, "hypernet")
    save_torch(p.hypernet_anchor, dict(state=net.state_dict(), scale=norm.scale.cpu(), config=conf, **ev))
    stage.log.info(
        "anchor hypernetwork (%s heads): loss %.4g -> %.4g, PSNR on mean views %.2f dB",
        c.heads.value,
        curve[0],
        curve[-1],
        ev["psnr_mean"],
    )
    return dict(loss_first=curve[0], loss_last=curve[-1], **ev)


def run(cfg) -> dict:
    stage = Stage(cfg, "50_hypernets")
    p, c = stage.paths, cfg.hypernet
    num = numerics_of(cfg)
    dev = num.device
    spec = image_spec(cfg)
    coords = pixel_grid(cfg.render.resolution).to(dev)
    objects = stage.objects()
    used, left_out = train_upstream(stage, objects)  # training objects with views and image-SIRENs
    conf = section(cfg, "hypernet")
    stage.wait_for("the anchor image-SIREN", "40_image_sirens", shared=("anchor",))
    anchor_img = load_torch(p.image_anchor)["flat"].to(dev)

    def data(obj_id):
        v = load_views(p.views(obj_id))
        return v["directions"].to(dev), load_torch(p.image_sirens(obj_id))["flat"].to(dev), v["rgb"].to(dev)

    anchor_key = shared_from_train(
        stage,
        "anchor",
        p.hypernet_anchor,
        lambda: make_anchor(stage, [data(i) for i in used], anchor_img, coords, num),
        used,
        left_out,
        stage.upstream["40_image_sirens"].key("anchor", shared=True),
    )
    anchor = load_torch(p.hypernet_anchor)
    scale = anchor["scale"].to(dev)

    def work(objs):
        (o,) = objs
        dirs, targets, rgb = data(o.id)
        record = {}
        for k in range(c.copies):  # copy 0 draws as it always has; the others from their own seeds
            net = HyperNet.load(anchor, c, spec, anchor_img, str(p.hypernet_anchor))
            gen = generator(cfg.seed, "50", o.id, *((f"copy{k}",) if k else ()))
            desc = o.id + (f" (copy {k})" if k else "")
            curve, ev = fit_hypernet(net, (dirs, targets, scale, rgb), coords, c, gen, c.steps, desc, num)
            stage.keep_curve(o.id, "hypernet" + (f"_copy{k}" if k else ""), curve)
            save_torch(p.hypernet(o.id, k), dict(state=net.state_dict(), config=conf, **ev))
            if k == 0:
                record.update(loss_first=curve[0], loss_last=curve[-1], **ev)
            else:
                record[f"psnr_mean_copy{k}"] = ev["psnr_mean"]
        return {o.id: record}

    def outputs(o):
        return [p.hypernet(o.id, k) for k in range(c.copies)]

    stage.run_objects(objects, outputs=outputs, work=work, shared={"anchor": anchor_key})
    done = [stage.manifest.get(o.id) for o in objects if stage.manifest.is_done(o.id)]
    if done:
        stage.log.info(
            "median PSNR of views drawn by hypernet-generated SIRENs: %.2f dB",
            float(torch.tensor([e["psnr_mean"] for e in done]).median()),
        )
    return stage.finish()
