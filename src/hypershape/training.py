"""The one optimisation loop every stage uses, and the losses they share."""

from __future__ import annotations

import contextlib
import math
import sys
from typing import Callable, Iterable

import torch
from tqdm import trange

from .nets.siren import SirenSpec, siren_forward
from .runtime import Numerics, TrainingDiverged

# Seconds between updates of a shared network's bar written to a log file (not a terminal): a 20-minute
# fit leaves ~40 lines, enough to see it move and when it will end.
SHARED_BAR_S = 30.0


def train(
    params: Iterable[torch.Tensor],
    loss_fn: Callable[[int], torch.Tensor],
    steps: int,
    lr: float,
    weight_decay: float = 0.0,
    desc: str = "train",
    parts: int = 1,
    numerics: Numerics | None = None,
    shared: bool = False,
    lr_end: float | None = None,
) -> list[float]:
    """Adam(W) for `steps` at learning rate `lr`, or, given lr_end, from lr at the first step to lr_end at the
    last along a half cosine (step_lr; param groups with rates of their own are scaled alike). loss_fn(step)
    returns a scalar or one loss per item (summed: items are independent), computed under `numerics`'
    autocast (None: full precision). Raises TrainingDiverged on a NaN/inf loss, naming the step. Returns the
    loss curve.

    parts > 1: loss_fn(step, part) returns part `part` of the step's loss (e.g. over one chunk of pixels);
    each part's gradient is accumulated before the step, so the step sees the gradient of the whole loss
    (up to float summation order) while only one part's activations are held at a time.

    shared: one network fitted over many objects (minutes to hours, the stage's only work): its bar also
    goes to log files, every SHARED_BAR_S seconds there, and stays when done. A per-object fit's bar shows
    on a terminal only, so log files get the stage's per-object bar alone."""
    params = list(params)
    if weight_decay:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr)
    curve = []
    autocast = contextlib.nullcontext if numerics is None else numerics.autocast_context
    terminal = sys.stderr.isatty()
    bar = (
        dict(disable=False, leave=True, mininterval=1.0 if terminal else SHARED_BAR_S)
        if shared
        else dict(disable=None, leave=False, mininterval=1.0)
    )
    base = [group["lr"] for group in opt.param_groups]  # param groups may carry their own rates: each is scaled
    for step in trange(steps, desc=desc, dynamic_ncols=True, **bar):
        if lr_end is not None:
            for group, b in zip(opt.param_groups, base):
                group["lr"] = b * step_lr(step, steps, lr, lr_end) / lr
        opt.zero_grad(set_to_none=True)
        if parts == 1:
            with autocast():
                loss = loss_fn(step).float()
            loss.sum().backward()
        else:
            loss = 0.0
            for part in range(parts):
                with autocast():
                    piece = loss_fn(step, part).float()
                piece.sum().backward()
                loss = loss + piece.detach()
        if not torch.isfinite(loss).all():  # checked before the step, so no weight takes a NaN gradient
            bad = (~torch.isfinite(loss.detach().reshape(-1))).nonzero().reshape(-1).tolist()
            raise TrainingDiverged(f"{desc}: loss is not finite at step {step} (items {bad})")
        opt.step()
        curve.append(float(loss.detach().mean()))
    return curve


def step_lr(step: int, steps: int, lr: float, lr_end: float) -> float:
    """The learning rate at `step` of `steps` falling from lr (step 0) to lr_end (the last step) along a half
    cosine: it stays near lr early and lingers near lr_end, where the weights settle."""
    t = step / max(steps - 1, 1)
    return lr_end + (lr - lr_end) * 0.5 * (1 + math.cos(math.pi * t))


class ItemLosses:
    """Keeps the loss of every item at every step of a batched fit: train's curve is their mean, this gives
    each item's own. wrap(loss_fn) is the loss_fn to pass to train/fit_flat; it returns what loss_fn does.
    parts > 1: a step's parts are summed, as train sums them. The losses stay on the device until
    curves() is called, so keeping them adds no synchronisation to the loop."""

    def __init__(self, parts: int = 1):
        self.parts = parts
        self.kept: list[torch.Tensor] = []

    def wrap(self, loss_fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def kept(*args):
            loss = loss_fn(*args)
            self.kept.append(loss.detach())
            return loss

        return kept

    def curves(self) -> list[list[float]]:
        """[item][step]: each item's loss per step."""
        if not self.kept:
            return []
        calls = torch.stack([k.float().reshape(-1) for k in self.kept]).cpu()  # [steps * parts, items]
        return calls.reshape(-1, self.parts, calls.shape[-1]).sum(1).T.tolist()


def fit_flat(
    flat0: torch.Tensor,
    loss_fn: Callable[..., torch.Tensor],
    steps: int,
    lr: float,
    desc: str,
    parts: int = 1,
    numerics: Numerics | None = None,
) -> tuple[torch.Tensor, list[float]]:
    """Fit flat SIREN weights [B, P] (B independent SIRENs in one program) from flat0; loss_fn(flat, step)
    or, with parts > 1, loss_fn(flat, step, part) (see train)."""
    p = flat0.detach().clone().requires_grad_(True)
    curve = train([p], lambda *a: loss_fn(p, *a), steps, lr, desc=desc, parts=parts, numerics=numerics)
    return p.detach(), curve


def sdf_l1(
    spec: SirenSpec, flat: torch.Tensor, points: torch.Tensor, sdf: torch.Tensor, compiled: bool = False
) -> torch.Tensor:
    """Mean |f(x) − sdf(x)| per SIREN: flat [B, P], points [B, N, 3], sdf [B, N] → [B]."""
    return (siren_forward(spec, flat, points, compiled)[..., 0] - sdf).abs().mean(-1)


def sdf_batch(data: list[tuple[torch.Tensor, torch.Tensor]], n: int, gens: list[torch.Generator], device):
    """n random SDF samples of each object, drawn from that object's own generator in `gens`, so what an
    object sees does not depend on which objects share its batch: points [B, n, 3], sdf [B, n]."""
    idx = [torch.randint(len(x), (n,), generator=g) for (x, _), g in zip(data, gens)]
    x = torch.stack([d[0][i] for d, i in zip(data, idx)]).to(device)
    y = torch.stack([d[1][i] for d, i in zip(data, idx)]).to(device)
    return x, y


def cube_batch(n: int, bound: float, gens: list[torch.Generator], device) -> torch.Tensor:
    """n points uniform in the cube [-bound, bound]^3 per object, each from its own generator: [B, n, 3]."""
    return torch.stack([(torch.rand(n, 3, generator=g) * 2 - 1) * bound for g in gens]).to(device)


def sdf_fit_loss(
    spec: SirenSpec,
    flat: torch.Tensor,
    samples: tuple[torch.Tensor, torch.Tensor],
    cube: torch.Tensor,
    radii: torch.Tensor,
    compiled: bool = False,
) -> torch.Tensor:
    """What a shape-SIREN is fitted with, per SIREN [B]: the mean |f − sdf| at its SDF samples (points
    [B, N, 3], sdf [B, N]) plus the mean shortfall of f below |q| − r at the points `cube` [B, M, 3]
    (uniform in the cube 90 meshes), r being the radius of a ball about the origin that holds the shape
    (radii [B]). |q| − r is a lower bound of the shape's SDF at every q (outside the ball the surface is at
    least that far; inside, the way out along the ray from the origin is at most that long), so the term
    never pulls against the true field. It keeps the field positive where SDF samples are sparse (the
    cube's corners and edges), where a SIREN is otherwise free to grow surfaces that no object has.

    Every SIREN is run as its own program, so a target is bitwise the same whichever objects share its
    batch. One batched program is not: on CPU torch multiplies a batch of one matrix as a single GEMM (GEMV
    for the 1-wide last layer) on all threads, and a larger batch by MKL's batched GEMM, one thread per
    matrix, and the two sum in different orders."""
    points, sdf = samples
    n, out = points.shape[1], []
    for i in range(len(flat)):
        f = siren_forward(spec, flat[i : i + 1], torch.cat([points[i : i + 1], cube[i : i + 1]], 1), compiled)[..., 0]
        floor = cube[i : i + 1].norm(dim=-1) - radii[i]
        shortfall = (floor - f[:, n:]).clamp(min=0).sum(-1) / max(cube.shape[1], 1)  # none: no term
        out.append((f[:, :n] - sdf[i : i + 1]).abs().mean(-1) + shortfall)
    return torch.cat(out)


def fit_sdf(
    spec: SirenSpec,
    flat0: torch.Tensor,
    data: list,
    radii: list[float],
    gens: list,
    c,
    bound: float,
    desc: str,
    numerics: Numerics,
    items=None,
):
    """Shape-SIRENs [B, P] fitted from flat0 to each object's SDF samples (data: (points, sdf) per object;
    radii: the radius of a ball about the origin holding each shape) by sdf_fit_loss: per step
    c.batch_points samples and c.cube_points points uniform in the cube [-bound, bound]^3 (where 90 meshes
    the field), both drawn from each object's own generator, for c.steps at c.lr (cfg.shape_siren): how 60
    fits a target, and 80 the field the probe route reads off a hypernetwork. items: an ItemLosses that
    keeps each object's own curve."""
    dev = flat0.device
    r = torch.tensor(radii, dtype=torch.float32, device=dev)

    def loss(f, step):
        samples = sdf_batch(data, c.batch_points, gens, dev)
        cube = cube_batch(c.cube_points, bound, gens, dev)
        return sdf_fit_loss(spec, f, samples, cube, r, compiled=numerics.compile)

    return fit_flat(flat0, items.wrap(loss) if items else loss, c.steps, c.lr, desc, numerics=numerics)
