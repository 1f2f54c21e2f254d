"""GPU memory each training stage needs at the configured sizes, without a GPU: one training step's forward
runs on the `meta` device (shapes, no data) and the bytes of the tensors autograd saves for backward are
counted (hypershape.memory.SavedTensors). Per stage:

  weights  parameters being trained (fp32)         grads+Adam  3 x weights (gradient, Adam's two moments)
  inputs   what the stage keeps on the device       saved       activations saved for backward, one step
  total    weights + grads+Adam + inputs + saved + the largest saved tensor once more (backward's
           gradient of it), and the no-grad evaluation pass where it is larger. CUDA's context (~0.5 GB)
           and the caching allocator's slack come on top: read "fits" as fitting with that margin.

    python benchmarks/gpu_memory.py [preset=n100] [image_siren.pixel_chunk=0] [...]
"""

from __future__ import annotations

import hydra
import torch

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.config import Route
from hypershape.memory import SavedTensors
from hypershape.nets.hypernet import HyperNet
from hypershape.nets.mapper import Mapper
from hypershape.nets.siren import pixel_grid, siren_forward
from hypershape.nets.weight_ae import WeightAE
from hypershape.render import view_count
from hypershape.stages.common import image_spec, shape_spec
from hypershape.stages.hypernets import hypernet_loss
from hypershape.stages.shape_sirens import field_silhouette
from hypershape.training import sdf_fit_loss, sdf_l1

META = torch.device("meta")
GB = 1024**3
CARDS = (24, 40, 80)
FP32 = 4


def saved_by(step) -> tuple[int, int]:
    """(peak bytes, largest single tensor) autograd saves while `step()` builds one loss on META."""
    with SavedTensors() as saved:
        loss = step()
        del loss
    return saved.peak, saved.largest


def nbytes(*tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def row(name: str, weights: int, inputs: int, saved: tuple[int, int], evaluation: int = 0) -> dict:
    peak, largest = saved
    train = 4 * weights + inputs + peak + largest
    return dict(stage=name, weights=weights, adam=3 * weights, inputs=inputs, saved=peak, total=max(train, evaluation))


def stage_rows(cfg) -> list[dict]:
    rows = []
    n_train = round(cfg.data.num_objects * (1 - cfg.data.test_fraction))
    views = view_count(cfg.render)
    pixels = cfg.render.resolution**2
    ispec, sspec = image_spec(cfg), shape_spec(cfg)
    coords = pixel_grid(cfg.render.resolution).to(META)
    gen = torch.Generator().manual_seed(0)

    # 40: image_siren.batch SIRENs per program, pixel_chunk pixels per part of a step
    c = cfg.image_siren
    b = max(1, c.batch)
    chunk = c.pixel_chunk if 0 < c.pixel_chunk < pixels else pixels
    flat = torch.empty(b, ispec.numel, device=META, requires_grad=True)
    rgb = torch.empty(b, pixels, 3, device=META)
    saved = saved_by(lambda: ((siren_forward(ispec, flat, coords[:chunk]) - rgb[:, :chunk]) ** 2).sum())
    evaluation = nbytes(rgb, coords) + 2 * b * pixels * ispec.hidden * FP32  # PSNR pass: two layers alive
    rows.append(
        row(f"40 image-SIRENs, {b} per batch, {chunk} px/part", nbytes(flat), nbytes(rgb, coords), saved, evaluation)
    )

    # 50: one hypernetwork per object, pixels_per_step pixels of each of its views in the image loss
    h = cfg.hypernet
    with META:
        net = HyperNet.of(h, ispec, torch.empty(ispec.numel))
    dirs, targets = torch.empty(views, 3, device=META), torch.empty(views, ispec.numel, device=META)
    scale, rgb = torch.empty(ispec.numel, device=META), torch.empty(views, pixels, 3, device=META)
    weights = sum(nbytes(p) for p in net.parameters())
    saved = saved_by(lambda: hypernet_loss(net, dirs, targets, scale, rgb, coords, h, gen))
    rows.append(row("50 hypernetwork, per object", weights, nbytes(dirs, targets, scale, rgb, coords), saved))

    # 60: shape_siren.batch targets per program, batch_points samples each; then the autoencoder
    s = cfg.shape_siren
    b = max(1, s.batch)
    flat = torch.empty(b, sspec.numel, device=META, requires_grad=True)
    pts, sdf = torch.empty(b, s.batch_points, 3, device=META), torch.empty(b, s.batch_points, device=META)
    cube, radii = torch.empty(b, s.cube_points, 3, device=META), torch.empty(b, device=META)
    saved = saved_by(lambda: sdf_fit_loss(sspec, flat, (pts, sdf), cube, radii).sum())
    rows.append(row(f"60 target shape-SIRENs, {b} per batch", nbytes(flat), nbytes(pts, sdf, cube), saved))
    a = cfg.weight_ae
    with META:
        ae = WeightAE.of(a, sspec, torch.empty(sspec.numel))
    per_step = min(a.batch_objects or n_train, n_train)  # the objects of one step (all weights stay on the device)
    w = torch.empty(n_train, sspec.numel, device=META)
    pts, sdf = torch.empty(per_step, a.sdf_points, 3, device=META), torch.empty(per_step, a.sdf_points, device=META)

    def ae_loss():
        rec = ae.decode(ae.encode(w[:per_step]))
        loss = ((ae.norm(rec - ae.anchor) - ae.norm(w[:per_step] - ae.anchor)) ** 2).mean()
        return loss + sdf_l1(sspec, rec, pts, sdf).mean()

    weights = sum(nbytes(p) for p in ae.parameters())
    rows.append(
        row(
            f"60 weight autoencoder, {per_step} of {n_train} train objects per step",
            weights,
            nbytes(w, pts, sdf),
            saved_by(ae_loss),
        )
    )

    # 70: the mapper on every training object's sketch at once
    m = cfg.mapper
    out_sizes = [a.latent] if m.route == Route.latent else sspec.sizes
    with META:
        mapper = Mapper(m.sketch_dim, m.hidden, out_sizes, None if m.route == Route.latent else m.heads)
    x, y = torch.empty(n_train, m.sketch_dim, device=META), torch.empty(n_train, sum(out_sizes), device=META)
    weights = sum(nbytes(p) for p in mapper.parameters())
    saved = saved_by(lambda: ((mapper(x) - y) ** 2).mean())
    rows.append(row(f"70 mapper ({m.route.value}), {n_train} train objects", weights, nbytes(x, y), saved))

    # 80: refinement of one shape-SIREN on `rays` rays x samples_per_ray points; all rays of all views kept
    r = s.refine
    flat = torch.empty(1, sspec.numel, device=META, requires_grad=True)
    o, d = torch.empty(r.rays, 3, device=META), torch.empty(r.rays, 3, device=META)
    near, far = torch.empty(r.rays, device=META), torch.empty(r.rays, device=META)
    saved = saved_by(
        lambda: field_silhouette(
            lambda x: siren_forward(sspec, flat[0], x),
            o,
            d,
            near,
            far,
            r.samples_per_ray,
            r.temperature,
            None,
            r.least_rounds,
        ).sum()
    )
    inputs = views * pixels * 9 * FP32  # origins, directions, near, far, mask of every ray
    eval_rays = min(r.eval_rays, views * pixels)  # silhouette IoU: no grad, two layers of every point alive
    evaluation = inputs + 2 * eval_rays * r.samples_per_ray * sspec.hidden * FP32
    rows.append(row(f"80 refinement, {r.rays} rays x {r.samples_per_ray}", nbytes(flat), inputs, saved, evaluation))
    return rows


def table(cfg, rows: list[dict]) -> str:
    head = ["stage", "weights", "grads+Adam", "inputs", "saved", "total"] + [f"fits {g} GB" for g in CARDS]
    lines = [
        f"preset={cfg.preset}: GPU memory per training stage (GiB, fp32, one step)",
        "",
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
    ]
    for r in rows:
        cells = [r["stage"]] + [f"{r[k] / GB:.3f}" for k in ("weights", "adam", "inputs", "saved", "total")]
        cells += ["yes" if r["total"] / GB < 0.9 * g else "no" for g in CARDS]  # 10% for context and slack
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@hydra.main(config_path="../configs", config_name="config", version_base=None)
def main(cfg) -> None:
    print(table(cfg, stage_rows(cfg)))


if __name__ == "__main__":
    import sys

    if not any(a.startswith("preset=") for a in sys.argv[1:]):
        sys.argv.append("preset=n100")
    main()
