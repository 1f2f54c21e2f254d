"""80_train_shape_sirens: per object, the field predicted from its hypernetwork alone by the selected route
(routes/<mapper.route>.py), then refined so that its soft silhouettes match the outlines of the object's own
24 pictures (03's masks), kept only where those outlines agree better: "refined" reads the pictures alone.
With shape_siren.refine.oracle_depth, a second refinement from the same prediction also holds the zero set
to the surface points of 03's depth maps, ground-truth geometry that no RGB picture holds, and is judged by
depth error as well: "oracle_depth", a row of its own in 90. Both optimise the field's parameters through
the route's field (a shape-SIREN's weights for the routes that predict one). No SDF of the object is used."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from .. import routes
from ..config import readout_seed
from ..provenance import object_config
from ..render import camera_rays, sphere_interval
from ..routes.base import Field
from ..runtime import Numerics, Stage, generator, numerics_of, save_torch
from ..shading import RayShading, brightness_model, ray_shading, shading_residuals
from ..training import fit_flat
from .common import evaluated, load_views

HARD_TEMPERATURE = 1e-6
"""field_silhouette at this temperature is the hard silhouette: sigmoid(-min f / T) > 0.5 exactly where min f < 0."""
PROB_CLAMP = 1e-6
"""Occupancies are clamped to [PROB_CLAMP, 1 - PROB_CLAMP] in the BCE, so a saturated ray gives a finite loss."""
LEAST_SEARCH = 9
"""Points a round of ray_least's search looks at across two sample spacings (odd: the best so far is one)."""
HALF_COVERED = 0.125
"""Pixels whose coverage is within this of 1/2 (03's 4x MSAA alpha 2/4) are left out of silhouette IoU: the
ray through such a pixel's centre hits or misses the surface alike, and counting them as covered made a
sphere dilated by a quarter pixel agree better than the sphere itself."""


def view_rays(views: dict) -> tuple:
    """All rays of all views, flattened: origins, dirs, t_near, t_far, mask, and t_hit, the ray parameter
    of the surface point 03's depth map gives (0 where the ray hits nothing; None where `views` hold no
    depth, so nothing downstream can read one)."""
    o, d = camera_rays(views["K"], views["cam_to_world"], views["resolution"])
    o, d = torch.from_numpy(o).reshape(-1, 3), torch.from_numpy(d).reshape(-1, 3)
    near, far = sphere_interval(o, d, 1.0)
    if "depth" not in views:
        return o, d, near, far, views["mask"].reshape(-1), None
    # depth is measured along the camera's -Z axis: t = depth / cos(ray, axis)
    axis = -torch.from_numpy(np.asarray(views["cam_to_world"])[:, :3, 2]).float()
    per_view = len(o) // len(axis)
    cos = (d * axis.repeat_interleave(per_view, 0)).sum(-1)
    return o, d, near, far, views["mask"].reshape(-1), views["depth"].reshape(-1) / cos


def ray_points(o, d, near, far, samples: int, gen=None) -> tuple[torch.Tensor, torch.Tensor]:
    """`samples` stratified points per ray in [near, far] (random offsets drawn from `gen`, or the
    midpoints without it): ray parameters [R, S] and points [R, S, 3]."""
    u = (
        torch.arange(samples, device=o.device)
        + (torch.rand(len(o), samples, generator=gen).to(o.device) if gen is not None else 0.5)
    ) / samples
    t = near[:, None] + (far - near)[:, None] * u
    return t, o[:, None] + t[..., None] * d[:, None]


def ray_values(field, o, d, near, far, samples: int, gen=None) -> tuple[torch.Tensor, torch.Tensor]:
    """ray_points' parameters [R, S] and a signed distance field's values there [R, S] (field: points
    [N, 3] -> values, N or [N, 1])."""
    t, pts = ray_points(o, d, near, far, samples, gen)
    return t, field(pts.reshape(-1, 3)).reshape(len(o), samples)


def ray_least(field, o, d, near, far, t, values, rounds: int) -> torch.Tensor:
    """Each ray's least value of the field [R], from its samples (t, values [R, S] of ray_values): the least
    sample, then `rounds` times the best of LEAST_SEARCH points spread evenly over a sample spacing either side
    of the best so far (each round LEAST_SEARCH // 2 times finer), found without gradients and evaluated
    with them, so the gradient is the field's at the ray's least point. A part thinner than the spacing that
    the samples step over is found (an SDF falls towards it). rounds = 0: the least sample."""
    least, k = values.min(dim=1)
    if rounds == 0:
        return least
    with torch.no_grad():
        best = t.gather(1, k[:, None])[:, 0]
        step = (far - near) / t.shape[1]
        offsets = torch.linspace(-1.0, 1.0, LEAST_SEARCH, device=t.device)
        for _ in range(rounds):
            tc = torch.minimum(torch.maximum(best[:, None] + step[:, None] * offsets, near[:, None]), far[:, None])
            v = field((o[:, None] + tc[..., None] * d[:, None]).reshape(-1, 3)).reshape(len(o), -1)
            best = tc.gather(1, v.argmin(dim=1, keepdim=True))[:, 0]
            step = step / (LEAST_SEARCH // 2)
    return field(o + best[:, None] * d).reshape(-1)


def occupancy(least: torch.Tensor, temperature: float) -> torch.Tensor:
    """Occupancy of each ray from its least value [R]: sigmoid(−least / T)."""
    return torch.sigmoid(-least / temperature)


def outline_loss(least: torch.Tensor, mask: torch.Tensor, r) -> torch.Tensor:
    """How far the fields' least values along rays [R] (ray_least) are from drawing the pixels' coverage
    [R]: r.outline_loss (RefineConfig)."""
    if r.outline_loss == "bce":
        occ = occupancy(least, r.temperature).float()
        # CUDA's autocast refuses binary_cross_entropy on half-precision probabilities: run it in fp32
        # (a no-op where nothing autocasts)
        with torch.autocast(least.device.type, enabled=False):
            return F.binary_cross_entropy(occ.clamp(PROB_CLAMP, 1 - PROB_CLAMP), mask.float())
    if r.outline_loss == "hinge":
        inside, outside = mask > 0.5 + HALF_COVERED, mask < 0.5 - HALF_COVERED
        return (torch.relu(least) * inside + torch.relu(-least) * outside).mean()
    raise ValueError(f"shape_siren.refine.outline_loss must be bce or hinge, not {r.outline_loss!r}")


def field_silhouette(
    field, o, d, near, far, samples: int, temperature: float, gen=None, rounds: int = 0
) -> torch.Tensor:
    """Occupancy of each ray under a signed distance field, from its ray_least after `rounds` of search.
    The hard silhouette is where that least value is negative."""
    t, values = ray_values(field, o, d, near, far, samples, gen)
    return occupancy(ray_least(field, o, d, near, far, t, values, rounds), temperature)


def coverage_iou(occupied: torch.Tensor, mask: torch.Tensor) -> float:
    """IoU of hard ray occupancies (bool [R]) with the pixels' coverage [R] in [0, 1], over the rays whose
    pixel is mostly covered or mostly empty (HALF_COVERED): 1 for the rendered shape itself."""
    clear = (mask - 0.5).abs() > HALF_COVERED
    occupied, covered = occupied[clear], mask[clear] > 0.5
    union = (occupied | covered).sum()
    return float((occupied & covered).sum() / union) if union else 1.0


def view_agreement(
    field: Field,
    params,
    rays,
    samples: int,
    max_rays: int,
    chunk: int | None = None,
    shading: RayShading = None,
    rounds: int = 0,
) -> dict:
    """How well a field agrees with the object's own views, on at most `max_rays` rays evenly spaced over
    all of them: the coverage_iou of its hard silhouettes (ray_least after `rounds` of search < 0) with the
    masks; where the rays carry depth, the median |f| at the depth maps' surface points (0 for a field whose
    zero set passes through them); with `shading`, the median |predicted − observed| brightness over the
    rays it reads (RayShading.reads) that hit the field (shading.shading_residuals, hard hits; 1, the most
    it can be, where none does)."""
    o, d, near, far, mask, t_hit = rays
    idx = torch.linspace(0, len(o) - 1, min(len(o), max_rays)).long()
    dev = params.device
    o, d, near, far = (x[idx].to(dev) for x in (o, d, near, far))

    def f(x):
        return field.evaluate(params, x, chunk)

    t, values = ray_values(f, o, d, near, far, samples)
    least = ray_least(f, o, d, near, far, t, values, rounds)
    out = dict(silhouette_iou=coverage_iou(least < 0, mask[idx].to(dev)))
    if shading is not None:
        full = shading.reads[idx]
        seen = shading.take(idx[full]).to(dev)
        full = full.to(dev)
        errors = shading_residuals(field, params.detach(), o[full], d[full], t[full], values[full], seen, False)
        out["shading_error"] = float(errors.median()) if len(errors) else 1.0
    if t_hit is not None:
        t_hit = t_hit[idx].to(dev)
        hit = t_hit > 0
        surf = f(o[hit] + t_hit[hit, None] * d[hit])[:, 0].abs()
        out["depth_error"] = float(surf.median()) if len(surf) else 0.0
    return out


def refine(
    field: Field, params0: torch.Tensor, rays, r, gen, numerics: Numerics, shading: RayShading = None
) -> tuple[torch.Tensor, list[float]]:
    """Adam on the field's parameters: the outline_loss against the masks; where the rays carry depth
    (t_hit not None), r.depth_weight times |f| at the depth maps' surface points and max(0, −f) at ray
    samples in front of them (free space: carves what no silhouette shows); with `shading` (the rays'
    pictures), r.shading_weight times the mean |predicted − observed| brightness of the rays it reads
    that hit the field (shading.shading_residuals, differentiable through hit and normal); with
    r.eikonal_weight, (|∇f| − 1)² at the ray samples (keeps the field a distance field); and a pull
    towards the starting parameters, in units of field.scale."""
    o, d, near, far, mask, t_hit = (t if t is None else t.to(params0.device) for t in rays)
    depth_weight = r.depth_weight if t_hit is not None else 0.0
    shading_weight = r.shading_weight if shading is not None else 0.0
    shading = shading.to(params0.device) if shading_weight > 0 else None
    scale = field.scale(params0)

    def loss(f, step):
        idx = torch.randint(len(o), (r.rays,), generator=gen).to(o.device)
        t, pts = ray_points(o[idx], d[idx], near[idx], far[idx], r.samples_per_ray, gen)
        pts = pts.reshape(-1, 3).requires_grad_(r.eikonal_weight > 0)
        values = field.sdf(f[0], pts)[:, 0]
        least = ray_least(
            lambda x: field.sdf(f[0], x),
            o[idx],
            d[idx],
            near[idx],
            far[idx],
            t,
            values.reshape(len(idx), -1),
            r.least_rounds,
        )
        total = outline_loss(least, mask[idx], r)
        if shading_weight > 0:
            full = shading.reads[idx]
            on = idx[full]
            along = values.reshape(len(idx), -1)[full]
            errors = shading_residuals(field, f[0], o[on], d[on], t[full], along, shading.take(on), True)
            total = total + shading_weight * (errors.mean() if len(errors) else 0.0)
        if depth_weight > 0:
            th = t_hit[idx]
            hit = th > 0
            surface = field.sdf(f[0], o[idx][hit] + th[hit, None] * d[idx][hit])[:, 0]
            free = (t < (th - r.free_margin)[:, None]) & hit[:, None]  # in front of the observed surface
            carve = torch.relu(-values.reshape(len(idx), -1))[free]
            total = total + depth_weight * (surface.abs().mean() + (carve.mean() if len(carve) else 0.0))
        if r.eikonal_weight > 0:
            (grad,) = torch.autograd.grad(values.sum(), pts, create_graph=True)
            total = total + r.eikonal_weight * ((grad.norm(dim=-1) - 1) ** 2).mean()
        return total + r.weight_reg * (((f[0] - params0) / scale) ** 2).mean()

    params, curve = fit_flat(params0[None], loss, r.steps, r.lr, "refine", numerics=numerics)
    return params[0], curve


def accepted(before: dict, after: dict, depth_slack: float | None, shading_slack: float | None = None) -> bool:
    """Whether a refinement agrees better with the object's own views: silhouette IoU no lower; when
    refinement reads the depth maps (depth_slack not None), depth error no more than depth_slack higher
    (a median over rays moves by a few 1e-5 when nothing changed); when it reads the shading
    (shading_slack not None), shading error no more than shading_slack higher; strictly better in one of
    the measures read."""
    gains = [after["silhouette_iou"] - before["silhouette_iou"]]  # > 0: better
    ok = gains[0] >= 0
    for measure, slack in (("depth_error", depth_slack), ("shading_error", shading_slack)):
        if slack is not None:
            gains.append(before[measure] - after[measure])
            ok = ok and gains[-1] >= -slack
    return ok and any(g > 0 for g in gains)


def refine_if_better(
    cfg, field: Field, pred: torch.Tensor, rays, gen, numerics: Numerics, shading: RayShading = None
) -> tuple[torch.Tensor, dict, list[float]]:
    """The refined parameters (the prediction itself where refining did not make the views agree better,
    or shape_siren.refine.steps is 0), the views' agreement before and after, whether it was kept, and
    its loss curve. What the rays hold decides: silhouette IoU, depth error where they carry depth, and
    shading error with `shading` (the rays' pictures, given where shape_siren.refine.shading_weight > 0).
    `tried` is the refinement's own agreement, kept or not: what a refused one measured."""
    r, chunk = cfg.shape_siren.refine, cfg.device.eval_chunk
    refined, curve = refine(field, pred, rays, r, gen, numerics, shading) if r.steps > 0 else (pred, [float("nan")])

    def agreement(params):
        return view_agreement(field, params, rays, r.samples_per_ray, r.eval_rays, chunk, shading, r.least_rounds)

    before = agreement(pred)
    after = agreement(refined) if r.steps > 0 else before
    slack = r.depth_slack if rays[-1] is not None and r.depth_weight > 0 else None
    shading_slack = r.shading_slack if shading is not None else None
    keep = r.steps > 0 and (not r.accept_if_better or accepted(before, after, slack, shading_slack))
    tried = after
    if not keep:  # what 90 scores: the prediction, where refining did not help the views
        refined, after = pred, before
    done = dict(accepted=keep, loss_first=curve[0], loss_last=curve[-1], before=before, after=after, tried=tried)
    return refined, done, curve


def refinement_record(name: str, kind: str, done: dict) -> dict:
    """What 80 records about one refinement (refine_if_better's record): `name`_accepted and its loss, and
    the views' agreement of the predicted field, of the `kind` field 90 scores and of the refinement as
    tried (`measure`_`kind`_tried: where it was refused, what the gate saw)."""
    out = {f"{name}_accepted": done["accepted"], f"{name}_loss_first": done["loss_first"]}
    out[f"{name}_loss_last"] = done["loss_last"]
    for measure, value in done["before"].items():
        out[f"{measure}_predicted"], out[f"{measure}_{kind}"] = value, done["after"][measure]
        out[f"{measure}_{kind}_tried"] = done["tried"][measure]
    return out


def refinements(cfg, field: Field, pred: torch.Tensor, views: dict, obj_id: str, numerics: Numerics):
    """{kind: parameters} of the refinements 80 makes from the prediction, what it records about them, and
    the loss curve of "refined". "refined" reads the pictures alone: 03's depth maps are dropped from the
    views before any ray is made. "oracle_depth" (shape_siren.refine.oracle_depth) reads them too. Both draw
    the same rays (one seed), so the depth terms are all that tells them apart. With
    shape_siren.refine.shading_weight > 0 both read the pictures' shading too."""
    pictures = {k: v for k, v in views.items() if k != "depth"}
    r = cfg.shape_siren.refine
    shading = ray_shading(pictures, brightness_model(cfg.render), r.shading_margin) if r.shading_weight > 0 else None

    def refine_on(rays):
        gen = generator(readout_seed(cfg), "80", obj_id)
        return refine_if_better(cfg, field, pred, rays, gen, numerics, shading)

    refined, done, curve = refine_on(view_rays(pictures))
    fields, info = dict(refined=refined), refinement_record("refine", "refined", done)
    if cfg.shape_siren.refine.oracle_depth:
        fields["oracle_depth"], done, _ = refine_on(view_rays(views))
        info.update(refinement_record("oracle_depth", "oracle_depth", done))
    return fields, info, curve


def run(cfg) -> dict:
    stage = Stage(cfg, "80_shape_sirens")
    p, num = stage.paths, numerics_of(cfg)
    dev = num.device
    route = routes.get(cfg.mapper.route)
    stage.wait_for("the mapper", "70_mapper", shared=("mapper",))
    predictor, field = route.predictor(cfg, p, dev), route.field(cfg, p, dev)
    saved = dict(field.describe(), route=route.name, config=object_config(cfg, stage.name)["refine"])

    def work(objs):
        (o,) = objs
        began = time.perf_counter()
        pred, how = predictor.predict(o.id)
        predict_seconds = round(time.perf_counter() - began, 3)
        fields, refinement, curve = refinements(cfg, field, pred, load_views(p.views(o.id)), o.id, num)
        if cfg.shape_siren.refine.steps > 0:
            stage.keep_curve(o.id, "refine", curve)
        # memory: the route answered with the object's own training target (routes/base.Predictor)
        info = dict(how, split=o.split, memory=bool(how.get("memory", False)), **refinement)
        fields = {k: v.cpu() for k, v in fields.items()}
        save_torch(p.shape_sirens(o.id), dict(predicted=pred.cpu(), **fields, **saved, **info))
        # the route's readout alone, beside the record's whole-object seconds; in the record only, as times
        # are, so that equal runs write equal files
        return {o.id: dict(info, predict_seconds=predict_seconds)}

    objects = evaluated(cfg, stage.objects())  # eval_splits: e.g. the test objects alone
    stage.run_objects(objects, outputs=lambda o: [p.shape_sirens(o.id)], work=work)
    log_views(stage, route, [stage.manifest.get(o.id) for o in objects if stage.manifest.is_done(o.id)])
    return stage.finish()


def log_views(stage: Stage, route, done: list[dict]) -> None:
    """How the objects' fields agree with their views, predicted and refined (and with oracle depth), how
    many the route answered from memory, and what the route says."""
    if not done:
        return
    stage.log.info(
        "median silhouette IoU: predicted %.3f, refined %.3f (as tried %.3f); refinement kept for %d of %d "
        "objects; answered from memory: %d",
        np.median([e["silhouette_iou_predicted"] for e in done]),
        np.median([e["silhouette_iou_refined"] for e in done]),
        np.median([e["silhouette_iou_refined_tried"] for e in done]),
        sum(bool(e["refine_accepted"]) for e in done),
        len(done),
        sum(bool(e["memory"]) for e in done),
    )
    oracle = [e for e in done if "oracle_depth_accepted" in e]
    if oracle:
        stage.log.info(
            "oracle depth: silhouette IoU %.3f, depth error %.4f -> %.4f, kept for %d of %d objects",
            np.median([e["silhouette_iou_oracle_depth"] for e in oracle]),
            np.median([e["depth_error_predicted"] for e in oracle]),
            np.median([e["depth_error_oracle_depth"] for e in oracle]),
            sum(bool(e["oracle_depth_accepted"]) for e in oracle),
            len(oracle),
        )
    shaded = [e for e in done if "shading_error_predicted" in e]
    if shaded:
        before, after, tried = (
            np.median([e[f"shading_error_{k}"] for e in shaded]) for k in ("predicted", "refined", "refined_tried")
        )
        stage.log.info("median shading error: predicted %.4f, refined %.4f (as tried %.4f)", before, after, tried)
    said = route.summary(done)
    if said:
        stage.log.info("%s", said)
