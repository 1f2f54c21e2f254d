"""40_train_image_sirens: an anchor image-SIREN fitted to the mean training view, then the SIRENs of the
24 views of every object warm-started from it, `image_siren.batch` SIRENs per batched program."""

from __future__ import annotations

import torch

from ..config import section
from ..nets.siren import pixel_grid, psnr, siren_forward
from ..render import view_count
from ..runtime import Numerics, Stage, load_torch, numerics_of, save_torch
from ..training import ItemLosses, fit_flat
from .common import image_spec, load_views, shared_from_train, train_upstream


def fit_images(
    spec,
    start: torch.Tensor,
    images: torch.Tensor,
    coords: torch.Tensor,
    steps: int,
    lr: float,
    batch: int,
    desc: str,
    pixel_chunk: int = 0,
    numerics: Numerics | None = None,
) -> tuple[torch.Tensor, list[list[float]]]:
    """Fit one SIREN per image [V, H*W, 3] from `start` [P], `batch` at a time; returns flats [V, P] and
    each image's loss curve [V][steps].
    pixel_chunk > 0: each step's loss and gradient are summed over chunks of that many pixels (the same
    step, up to float summation order), so the activations held are those of one chunk. numerics: the
    device's autocast and compile (None: full precision, not compiled)."""
    compiled = numerics is not None and numerics.compile
    out, curves = [], []
    n = coords.shape[0]
    chunk = pixel_chunk if 0 < pixel_chunk < n else n
    parts = -(-n // chunk)
    for i in range(0, len(images), batch):
        target = images[i : i + batch]
        flat0 = start.expand(len(target), -1)

        def loss(f, s, target=target):
            return ((siren_forward(spec, f, coords, compiled) - target) ** 2).mean((1, 2))

        def chunk_loss(f, s, part, target=target):
            px = slice(part * chunk, (part + 1) * chunk)
            drawn = siren_forward(spec, f, coords[px], compiled)
            return ((drawn - target[:, px]) ** 2).sum((1, 2)) / target[0].numel()

        items = ItemLosses(parts)
        flat, _ = fit_flat(flat0, items.wrap(loss if parts == 1 else chunk_loss), steps, lr, desc, parts, numerics)
        out.append(flat)
        curves += items.curves()
    return torch.cat(out), curves


def make_anchor(stage: Stage, used: list[str], coords: torch.Tensor, num: Numerics) -> dict:
    """The anchor image-SIREN: one SIREN fitted from a seeded init to the mean view of the training
    objects `used`."""
    cfg, p, c, dev = stage.cfg, stage.paths, stage.cfg.image_siren, num.device
    spec = image_spec(cfg)
    mean = torch.stack([load_views(p.views(i))["rgb"].mean(0) for i in used]).mean(0).to(dev)
    init = spec.init(torch.Generator().manual_seed(cfg.seed)).to(dev)
    flat, curves = fit_images(
        spec, init, mean[None], coords, c.anchor_steps, c.lr, 1, "anchor image-SIREN", c.pixel_chunk, num
    )
    flat = flat[0]
    stage.keep_shared_curve("anchor", curves[0])
    q = float(psnr(siren_forward(spec, flat, coords, num.compile), mean, dims=(-2, -1)))
    save_torch(p.image_anchor, dict(flat=flat.cpu(), spec=spec, config=section(cfg, "image_siren"), psnr=q))
    stage.log.info("anchor image-SIREN: %d weights, PSNR %.2f dB on the mean training view", spec.numel, q)
    return dict(psnr=q)


def run(cfg) -> dict:
    stage = Stage(cfg, "40_image_sirens")
    p, c = stage.paths, cfg.image_siren
    num = numerics_of(cfg)
    dev = num.device
    spec = image_spec(cfg)
    coords = pixel_grid(cfg.render.resolution).to(dev)
    objects = stage.objects()
    used, left_out = train_upstream(stage, objects)  # the anchor learns from rendered training objects only
    conf = section(cfg, "image_siren")

    make = lambda: make_anchor(stage, used, coords, num)
    anchor_key = shared_from_train(stage, "anchor", p.image_anchor, make, used, left_out)
    anchor = load_torch(p.image_anchor)["flat"].to(dev)

    def work(objs):
        # all views of all objects of this batch go through one program, c.batch SIRENs at a time
        rgb = torch.cat([load_views(p.views(o.id))["rgb"] for o in objs]).to(dev)
        desc = "+".join(o.id for o in objs)
        flats, curves = fit_images(spec, anchor, rgb, coords, c.steps, c.lr, max(1, c.batch), desc, c.pixel_chunk, num)
        with torch.no_grad():
            q = psnr(siren_forward(spec, flats, coords, num.compile), rgb).cpu()
        out = {}
        nv = len(rgb) // len(objs)
        for i, o in enumerate(objs):
            views = slice(nv * i, nv * (i + 1))
            save_torch(p.image_sirens(o.id), dict(flat=flats[views].cpu(), psnr=q[views], spec=spec, config=conf))
            stage.keep_curve(o.id, "image_sirens", torch.tensor(curves[views]).mean(0).tolist())  # view mean
            out[o.id] = dict(psnr_mean=float(q[views].mean()), psnr_min=float(q[views].min()))
        return out

    stage.run_objects(
        objects,
        outputs=lambda o: [p.image_sirens(o.id)],
        work=work,
        batch=max(1, c.batch // view_count(cfg.render)),
        shared={"anchor": anchor_key},
    )
    done = [stage.manifest.get(o.id) for o in objects if stage.manifest.is_done(o.id)]
    if done:
        stage.log.info(
            "median image-SIREN PSNR %.2f dB over %d objects",
            float(torch.tensor([e["psnr_mean"] for e in done]).median()),
            len(done),
        )
    return stage.finish()
