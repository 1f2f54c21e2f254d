"""Whether route decoder's readout carries to held-out objects, and what limits it, on a run where the
route's 70 is done: the decoder's own held-out ceiling (a test object's latent fitted to its 02 SDF samples,
decoder frozen) beside the latents that readouts of its probed views give, each scored as 90 scores a field.
The readouts: 70's trained one, and two fitted here on the same training objects and the same probe inputs:
kernel ridge regression and the mean of the k nearest training codes (alpha and k picked by leave-one-out on
the training objects), with the training codes' mean as the readout that knows nothing. With `hull`, three
latents read from 3-D evidence: the latent fitted (decoder frozen) to the visual hull the object's views carve
(route decoder's hull start), and that latent moved by the step from a hull latent to the code that ridge or
k-NN learn on the training objects' own hull latents. A readout's latent
error is the mean squared difference per dimension in units of the training codes' spread there."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..config import readout_seed
from ..objects import Subset, load_objects
from ..paths import Paths
from ..routes.base import DecoderField
from ..routes.decoder import DecoderPredictor
from ..runtime import MissingUpstream, atomic_write, device_of, generator, load_torch, save_json
from ..stages.common import load_samples
from .autodecode import fit_latent
from .benchmark import medians, score_object, table
from .probe_encoder import emitted_sirens

Readout = Callable[[torch.Tensor], torch.Tensor]  # probe inputs [B, D] -> latents [B, L]
ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0)
NEIGHBOURS = (1, 3, 5, 10)
KINDS = {
    "fitted": "latent fitted to the object's own 02 SDF samples, decoder frozen (oracle SDF: the decoder's ceiling)",
    "readout": "70's trained readout of the probed views (route decoder's predicted start)",
    "ridge": "kernel ridge regression from the probed views to the training codes",
    "knn": "mean code of the k training objects whose probed views are nearest",
    "mean": "the training codes' mean (a readout that reads nothing)",
}
HULL_KINDS = {
    "hull": "latent fitted, decoder frozen, to the visual hull the drawn views carve (route decoder's hull start)",
    "hull_ridge": "the hull latent plus a ridge regression's step from it to the code, fitted on training objects",
    "hull_knn": "the hull latent plus the mean step to the code of the k training objects nearest in hull latent",
}


def spread_error(pred: torch.Tensor, ref: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Per object, the mean over dimensions of ((pred - ref) / scale)^2: [B, L] -> [B]. The training
    codes themselves lie about 1 from their mean in these units."""
    return (((pred - ref) / scale) ** 2).mean(-1)


def ridge(x: torch.Tensor, z: torch.Tensor, alpha: float) -> Readout:
    """Kernel ridge regression (linear kernel) on standardised inputs: x [N, D] -> z [N, L]."""
    mean, scale = x.mean(0), x.std(0, correction=0).clamp_min(1e-3)  # one object: no nan
    xs = ((x - mean) / scale).double()
    offset = z.mean(0)
    weights = torch.linalg.solve(xs @ xs.T + alpha * torch.eye(len(x), dtype=xs.dtype), (z - offset).double())
    return lambda y: (((y - mean) / scale).double() @ xs.T @ weights).to(z.dtype) + offset


def knn(x: torch.Tensor, z: torch.Tensor, k: int) -> Readout:
    """The mean of the k codes whose inputs are nearest (Euclidean)."""
    k = min(k, len(x))
    return lambda y: z[torch.cdist(y, x).topk(k, largest=False).indices].mean(1)


def leave_one_out(make: Callable[[torch.Tensor, torch.Tensor], Readout], x, z, scale) -> float:
    """Median spread_error of each training object read by the readout made from all the others."""
    keep = torch.ones(len(x), dtype=torch.bool)
    errors = []
    for i in range(len(x)):
        keep[i] = False
        errors.append(float(spread_error(make(x[keep], z[keep])(x[i : i + 1]), z[i : i + 1], scale)[0]))
        keep[i] = True
    return float(np.median(errors))


def corrected(make: Callable[[torch.Tensor, torch.Tensor, float], Readout]):
    """`make` (ridge or knn) turned to read the step from a latent read some other way to the code: the
    readout y -> y + make(x, z - x, v)(y). Corrected ridge with a strong prior moves y by the training
    objects' mean step; corrected k-NN by their nearest ones' mean step."""

    def make_corrected(x: torch.Tensor, z: torch.Tensor, v: float) -> Readout:
        step = make(x, z - x, v)
        return lambda y: y + step(y)

    return make_corrected


def pick(make, values, x, z, scale) -> tuple[float, dict[float, float]]:
    """The value of make's parameter with the lowest leave-one-out error, and every value's error."""
    errors = {v: leave_one_out(lambda a, b, v=v: make(a, b, v), x, z, scale) for v in values}
    return min(errors, key=errors.get), errors


def hull_latents(predictor: DecoderPredictor, ids: list[str]) -> torch.Tensor:
    """Each object's latent fitted to its drawn hull, exactly as route decoder's 80 fits its hull start."""
    return torch.stack([predictor.hull_latent(i) for i in tqdm(ids, desc="fit latents to drawn hulls", unit="obj")])


def hull_readouts(predictor: DecoderPredictor, train_ids, test, codes, scale) -> tuple[dict, dict, dict, dict]:
    """The HULL_KINDS latents of the test objects, their latent errors on the training objects (the hull
    latent's in sample, the corrections' by leave-one-out), the corrections' alpha and k, and every
    value's leave-one-out error."""
    h_train, h_test = hull_latents(predictor, train_ids), hull_latents(predictor, test)
    alpha, ridge_loo = pick(corrected(ridge), ALPHAS, h_train, codes, scale)
    k, knn_loo = pick(corrected(knn), NEIGHBOURS, h_train, codes, scale)
    read = dict(
        hull=h_test,
        hull_ridge=corrected(ridge)(h_train, codes, alpha)(h_test),
        hull_knn=corrected(knn)(h_train, codes, k)(h_test),
    )
    errors = dict(
        hull=float(spread_error(h_train, codes, scale).median()), hull_ridge=ridge_loo[alpha], hull_knn=knn_loo[k]
    )
    return read, errors, dict(alpha_hull=alpha, k_hull=k), dict(hull_ridge=ridge_loo, hull_knn=knn_loo)


def run(cfg, train_objects: int, hull: bool = False) -> dict:
    """Read and score every test object (and the first `train_objects` training objects through 70's
    readout; with `hull`, the hull readouts too, which fit a latent to every object's drawn hull); write
    experiments/readout_generalisation/summary.{md,json}; return the record."""
    paths, dev, seed = Paths(cfg.data_dir, cfg.name, "decoder"), device_of(cfg), readout_seed(cfg)
    if not paths.mapper.exists():
        raise MissingUpstream(
            f"no route decoder mapper at {paths.mapper}: run `python 70_train_mapper.py mapper=decoder`"
        )
    predictor = DecoderPredictor(cfg, paths, dev)
    ckpt = load_torch(paths.mapper)
    codes, train_ids = ckpt["codes"].to(dev), ckpt["train_ids"]
    scale = DecoderField(predictor.decoder, codes).spread  # the training codes' spread, as 80's pull reads it
    objects = {o.id: o for o in load_objects(paths.objects, fetched_only=True)}
    test = [i for i, o in objects.items() if o.split == Subset.test and paths.hypernet(i).exists()]

    def inputs(ids):
        with torch.no_grad():
            return torch.stack([predictor.encoder.draw(emitted_sirens(predictor.prober, i)[None])[0] for i in ids])

    x_train, x_test = inputs(train_ids), inputs(test)
    alpha, ridge_loo = pick(ridge, ALPHAS, x_train, codes, scale)
    k, knn_loo = pick(knn, NEIGHBOURS, x_train, codes, scale)
    fitted = [
        fit_latent(predictor.decoder, *load_samples(paths, i), cfg.decoder, generator(seed, "decoder-fit", i))
        for i in test
    ]
    with torch.no_grad():
        latents = dict(
            fitted=torch.stack([z for z, _ in fitted]),
            readout=predictor.encoder.from_inputs(x_test),
            ridge=ridge(x_train, codes, alpha)(x_test),
            knn=knn(x_train, codes, k)(x_test),
            mean=codes.mean(0).expand(len(test), -1),
        )
    errors = dict(
        test={
            kind: float(spread_error(z, latents["fitted"], scale).median())
            for kind, z in latents.items()
            if kind != "fitted"
        },
        train=dict(
            readout=float(spread_error(predictor.encoder.from_inputs(x_train), codes, scale).median()),
            ridge=ridge_loo[alpha],
            knn=knn_loo[k],
            mean=float(spread_error(codes.mean(0), codes, scale).median()),
        ),
    )
    kinds, picked, loo = dict(KINDS), dict(alpha=alpha, k=k), dict(ridge=ridge_loo, knn=knn_loo)
    if hull:
        read, train_errors, hull_picked, hull_loo = hull_readouts(predictor, train_ids, test, codes, scale)
        latents.update(read)
        picked.update(hull_picked)
        loo.update(hull_loo)
        errors["test"].update(
            {kind: float(spread_error(z, latents["fitted"], scale).median()) for kind, z in read.items()}
        )
        errors["train"].update(train_errors)
        kinds.update(HULL_KINDS)
    rows = []
    for j, i in enumerate(tqdm(test, desc="score test objects", unit="obj")):
        rows += score_object(
            cfg, paths, objects[i], {kind: z[j] for kind, z in latents.items()}, predictor.decoder, dev
        )
    with torch.no_grad():
        read_train = predictor.encoder.from_inputs(x_train[:train_objects])
    for j, i in enumerate(tqdm(train_ids[:train_objects], desc="score training objects", unit="obj")):
        rows += score_object(cfg, paths, objects[i], {"readout": read_train[j]}, predictor.decoder, dev)
    record = dict(
        preset=cfg.preset,
        seed=cfg.seed,
        readout_seed=seed,
        kinds=kinds,
        **picked,
        leave_one_out=loo,
        errors=errors,
        summary=medians(rows, cfg.reconstruct.taus, kinds),
        rows=rows,
    )
    out = paths.experiment("readout_generalisation")
    save_json(out / "summary.json", record)
    atomic_write(out / "summary.md", lambda f: f.write_text(report(record, cfg.reconstruct.taus)))
    return record


def report(record: dict, taus) -> str:
    """The Markdown page: what each kind reads, the latent errors, the scores."""
    errors, lines = record["errors"], []
    lines.append("| latent | reads | latent error, train | latent error, test |")
    lines.append("|---|---|---|---|")
    how = dict(
        readout="in sample",
        ridge=f"leave-one-out, alpha {record['alpha']:g}",
        knn=f"leave-one-out, k {record['k']}",
        mean="in sample",
        hull="in sample: the decoder was trained on these objects",
        hull_ridge=f"leave-one-out, alpha {record.get('alpha_hull', 0):g}",
        hull_knn=f"leave-one-out, k {record.get('k_hull', 0)}",
    )
    for kind in (k for k in how if k in errors["test"]):
        train, test = errors["train"][kind], errors["test"][kind]
        lines.append(f"| {kind} | {record['kinds'][kind]} | {train:.3f} ({how[kind]}) | {test:.3f} |")
    return (
        f"preset={record['preset']} seed={record['seed']} readout_seed={record['readout_seed']}. Latent error: median "
        "over objects of the mean squared difference per dimension, in units of the training codes' spread, from "
        "the object's own code (train) or its fitted latent (test). Scores: medians over objects, genus ok a "
        "rate.\n\n" + "\n".join(lines) + "\n\n" + table(record["summary"], taus)
    )
