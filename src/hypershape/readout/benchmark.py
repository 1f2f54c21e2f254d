"""Measures the decoder readout on a run whose stages 01-60 (and 50) are done, beside the routes 90 has
already scored there: the shared decoder auto-decoded on the training objects, the probe readout trained
on them, and the latent fitted to the hypernetwork's outlines, each scored as 90 scores a field
(stages/reconstruct: ground_truth and score_field, 02's ground truth). Writes a table and a JSON record
under the run's experiments/decoder_readout and the trained networks beside them."""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch

from ..config import readout_seed, section
from ..geometry.metrics import fscore_key
from ..nets.shape_decoder import save_decoder
from ..objects import RunObject, Subset, load_objects
from ..paths import Paths, paths_of
from ..routes.base import DecoderField
from ..runtime import atomic_write, device_of, generator, load_json, rng, save_json, save_torch
from ..stages.common import image_spec, load_samples, readout_train
from ..stages.reconstruct import ground_truth, score_field
from .autodecode import autodecode, fit_latent, midpoint_volumes, uniform_points
from .probe import Prober
from .probe_encoder import emitted_sirens, train_readout
from .view_fit import drawn_rays, refine_latent

KINDS = {
    "autodecoded": "the object's own auto-decoded latent (memory: the decoder's fit ceiling)",
    "fitted": "latent fitted to the object's 02 SDF samples, decoder frozen (oracle SDF: the decoder's ceiling)",
    "predicted": "the readout's latent (reads only the hypernetwork and what was learnt from training objects)",
    "refined": "predicted, then fitted to the outlines the hypernetwork draws (kept where they agree better)",
}
ROUTES = ("latent", "direct", "probe", "hybrid")


def train_networks(cfg, p, train_ids: list[str], prober: Prober, dev) -> dict:
    """The decoder, the training latents and the readout, each timed, with their loss curves: what route
    decoder's 70 trains (routes/decoder.py)."""
    c, seed = cfg.decoder, readout_seed(cfg)
    data = [load_samples(p, i) for i in train_ids]
    start = time.perf_counter()
    decoder, codes, curve = autodecode(data, train_ids, c, seed, dev)
    decoded_s = time.perf_counter() - start
    sirens = torch.stack([emitted_sirens(prober, i) for i in train_ids])
    start = time.perf_counter()
    encoder, readout_curve = train_readout(sirens, codes, decoder, data, train_ids, image_spec(cfg), c, seed)
    return dict(
        decoder=decoder,
        codes=codes,
        encoder=encoder,
        autodecode_s=decoded_s,
        readout_train_s=time.perf_counter() - start,
        autodecode_loss=(curve[0], curve[-1]),
        readout_loss=(readout_curve[0], readout_curve[-1]),
        autodecode_curve=curve,
        readout_curve=readout_curve,
    )


def read_object(cfg, p, o: dict, nets: dict, prober: Prober, train_ids: list[str], dev) -> tuple[dict, dict]:
    """The latents of one object (see KINDS), the readout's seconds and the view fit's record."""
    c, seed, decoder = cfg.decoder, readout_seed(cfg), nets["decoder"]
    start = time.perf_counter()
    with torch.no_grad():
        z = nets["encoder"](emitted_sirens(prober, o.id)[None])[0]
    readout_s = time.perf_counter() - start
    rays = drawn_rays(prober, o.id, cfg.render, cfg.mapper.probe.threshold)
    gen = generator(seed, "decoder-views", o.id)
    refined, info = refine_latent(DecoderField(decoder, nets["codes"]), z, rays, c, cfg.shape_siren.refine, gen)
    latents = dict(predicted=z, refined=refined)
    if o.id in train_ids:
        latents["autodecoded"] = nets["codes"][train_ids.index(o.id)]
    else:
        x, y = load_samples(p, o.id)
        latents["fitted"] = fit_latent(decoder, x, y, c, generator(seed, "decoder-fit", o.id))[0]
    return latents, dict(info, readout_s=readout_s)


def score_object(cfg, p, o: RunObject, latents: dict, decoder, dev) -> list[dict]:
    """90's metrics of each latent's field against 02's ground truth, with 90's draws for the object."""
    rc = cfg.reconstruct
    gen = rng(cfg.seed, "90", o.id)
    truth = ground_truth(p, o.id, rc, gen)
    rows = []
    for kind, z in latents.items():
        m, _ = score_field(DecoderField(decoder).numpy(z, dev, cfg.device.eval_chunk), truth, rc, gen)
        rows.append(dict(id=o.id, split=o.split, kind=kind, gt_genus=truth["genus"], **m))
    return rows


def medians(rows: list[dict], taus, kinds=KINDS) -> list[dict]:
    """Per split and kind (of `kinds`): n, median F@tau for every tau, median Chamfer-L1, genus-match rate."""
    out = []
    for split, kind in itertools.product(Subset, kinds):
        sel = [r for r in rows if r["split"] == split and r["kind"] == kind]
        if sel:
            s = dict(split=split, kind=kind, n=len(sel))
            s.update({fscore_key(t): float(np.median([r[fscore_key(t)] for r in sel])) for t in taus})
            s["chamfer_l1"] = float(np.median([r["chamfer_l1"] for r in sel]))
            s["genus_match"] = float(np.mean([bool(r["genus_match"]) for r in sel]))
            out.append(s)
    return out


def route_medians(cfg) -> list[dict]:
    """The same medians from 90's summary of every route already scored in this run."""
    out = []
    for route in ROUTES:
        path = Paths(cfg.data_dir, cfg.name, route).summary_json
        if path.exists():
            for s in load_json(path)["summary"]:
                row = dict(split=s["split"], kind=f"route {route}: {s['kind']}", n=s["n"])
                row.update({fscore_key(t): s[f"median_{fscore_key(t)}"] for t in cfg.reconstruct.taus})
                row.update(chamfer_l1=s["median_chamfer_l1"], genus_match=s["mean_genus_match"])
                out.append(row)
    return out


def table(rows: list[dict], taus) -> str:
    keys = [fscore_key(t) for t in taus]
    head = "| split | latent / SIREN | n | " + " | ".join(f"F@{t:g}" for t in taus) + " | CD-L1 | genus ok |"
    lines = [head, "|---|---|---|" + "---|" * (len(taus) + 2)]
    for r in sorted(rows, key=lambda r: r["split"] != Subset.train):
        vals = " | ".join(f"{r[k]:.3f}" for k in keys)
        lines.append(
            f"| {r['split']} | {r['kind']} | {r['n']} | {vals} | {r['chamfer_l1']:.4f} | {r['genus_match']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def run(cfg) -> dict:
    """Train on the run's training objects, read and score every object, write the record; returns it."""
    p, dev = paths_of(cfg), device_of(cfg)
    objects = load_objects(p.objects, fetched_only=True)
    train_ids = readout_train(cfg, objects)
    prober = Prober(cfg, p, image_spec(cfg), dev)
    nets = train_networks(cfg, p, train_ids, prober, dev)
    rows, per_object = [], {}
    for o in objects:
        latents, info = read_object(cfg, p, o, nets, prober, train_ids, dev)
        rows += score_object(cfg, p, o, latents, nets["decoder"], dev)
        per_object[o.id] = info
    pairs = list(itertools.combinations(range(len(train_ids)), 2))
    points = uniform_points(20_000, cfg.reconstruct.bound, cfg.seed).to(dev)
    interp = midpoint_volumes(nets["decoder"], nets["codes"], pairs, points)
    taus = cfg.reconstruct.taus
    summary = medians(rows, taus)
    readout_s = [i["readout_s"] for i in per_object.values()]
    record = dict(
        preset=cfg.preset,
        seed=cfg.seed,
        readout_seed=readout_seed(cfg),
        decoder=section(cfg, "decoder"),
        kinds=KINDS,
        summary=summary,
        routes=route_medians(cfg),
        rows=rows,
        per_object=per_object,
        readout_s_median=float(np.median(readout_s)),
        interpolation=interp,
        midpoint_between=float(np.mean([r["between"] for r in interp])) if interp else float("nan"),
        **{k: v for k, v in nets.items() if k.endswith(("_s", "_loss"))},
    )
    out = p.experiment("decoder_readout")
    save_json(out / "summary.json", record)
    atomic_write(out / "summary.md", lambda f: f.write_text(report(record, taus)))
    save_torch(
        out / "networks.pt",
        dict(
            decoder=save_decoder(nets["decoder"]),
            codes=nets["codes"].cpu(),
            train_ids=train_ids,
            encoder=nets["encoder"].state_dict(),
        ),
    )
    return record


def report(record: dict, taus) -> str:
    """The Markdown page: what each row reads, the table, the costs and the interpolation check."""
    said = "".join(f"- {k}: {v}\n" for k, v in record["kinds"].items())
    return (
        f"preset={record['preset']} seed={record['seed']} readout_seed={record['readout_seed']}; medians over "
        "objects, genus ok a rate. Rows `route X: kind` are 90's summary of that route in the same run.\n\n"
        + said
        + "\n"
        + table(record["summary"] + record["routes"], taus)
        + f"\nauto-decoding {record['autodecode_s']:.1f} s, readout training {record['readout_train_s']:.1f} s, "
        f"readout per object (median) {record['readout_s_median'] * 1e3:.1f} ms (load the hypernetwork, emit, "
        "draw the probes, encode).\n"
        f"Interpolation: the decoded midpoint of two training latents has an inside volume between the two "
        f"ends' for {record['midpoint_between']:.0%} of {len(record['interpolation'])} pairs.\n"
    )
