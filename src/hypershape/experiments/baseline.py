"""Experiment 5: retrieval. For each object, the train object nearest in hypernetwork-weight space (the
same sketch the mapper reads) lends its target shape-SIREN. A pipeline that does not beat this on the test
split has learned nothing beyond lookup. Beside it the oracle nearest neighbour: the training object whose ground
truth scores best against the object's own, the ceiling of retrieving those objects' ground truths."""

from __future__ import annotations

import trimesh

from ..metrics import compared_metrics, headline, select
from ..nets.siren import siren_field
from ..paths import paths_of
from ..pipeline import run_all
from ..readout.retrieval import nearest_train, oracle_nearest
from ..runtime import device_of, load_torch, rng
from ..stages.common import shape_spec
from ..stages.reconstruct import ground_truth, score_field
from .common import object_rows, rates_note, write_result

ORACLE = "oracle nearest neighbour"


def verdict_of(pred: dict | None, retr: dict | None, taus) -> str:
    """Plain words on the test split: does the pipeline beat lookup on the headline F-score (at the largest
    tau) and on Chamfer-L1? `pred` and `retr` are table rows (columns by label)."""
    if not pred or not retr:
        return ""
    fs, cd = headline(taus).label, select(taus, "chamfer_l1")[0].label
    f = pred[fs] > retr[fs]
    c = pred[cd] < retr[cd]
    numbers = f"median {fs} {pred[fs]:.3f} vs {retr[fs]:.3f}, Chamfer-L1 {pred[cd]:.4f} vs {retr[cd]:.4f}"
    if f and c:
        return f"On the test split the predicted SIRENs beat retrieval ({numbers})."
    if not f and not c:
        return (
            f"On the test split the predicted SIRENs do not beat retrieval ({numbers}): the weight-space "
            "route has learned nothing beyond lookup here."
        )
    return (
        f"On the test split the predicted SIRENs beat retrieval on {fs if f else 'Chamfer-L1'} only "
        f"({numbers}): no clear gain over lookup."
    )


def retrieval_rows(cfg, split_of: dict[str, str]) -> list[dict]:
    """The retrieval row of each object of split_of ({id: split}), sorted by id: the target SIREN of the
    nearest of the train objects 70's mapper learnt from (its checkpoint's features and train_ids), scored
    as 90 scores a SIREN."""
    p, rc, dev = paths_of(cfg), cfg.reconstruct, device_of(cfg)
    spec = shape_spec(cfg)
    ckpt = load_torch(p.mapper)
    retrieved = []
    for o in sorted(split_of):
        nn = nearest_train(ckpt["features"], ckpt["train_ids"], o)
        gen = rng(cfg.seed, "90", o)  # the same draws as 90_reconstruct, so numbers are comparable
        m, _ = score_field(
            siren_field(spec, load_torch(p.target(nn))["flat"], dev, cfg.device.eval_chunk),
            ground_truth(p, o, rc, gen),
            rc,
            gen,
        )
        retrieved.append(dict(id=o, split=split_of[o], kind="retrieval", neighbour=nn, **m))
    return retrieved


def oracle_rows(
    cfg, split_of: dict[str, str], train_ids: list[str] | None = None, known: dict | None = None
) -> list[dict]:
    """The oracle nearest neighbour row of each object of split_of ({id: split}), sorted by id: the ground
    truth of the training object (of train_ids, by default split_of's train objects; never the object itself)
    that scores best against the object's ground truth (readout.retrieval.oracle_nearest), scored against the
    same draws as 90. A readout's oracle searches the objects it learnt from (its mapper.pt's train_ids).
    `known`: {object: {candidate: headline F-score}} of earlier calls on the same run's objects, reused and added
    to (readout.retrieval.oracle_nearest)."""
    p, rc = paths_of(cfg), cfg.reconstruct
    train = sorted(train_ids if train_ids is not None else (i for i, s in split_of.items() if s == "train"))
    solids = {i: trimesh.load(p.solid(i), force="mesh", process=False) for i in train}
    out = []
    for o in sorted(split_of):
        truth = ground_truth(p, o, rc, rng(cfg.seed, "90", o))
        others = {i: mesh for i, mesh in solids.items() if i != o}
        scores = None if known is None else known.setdefault(o, {})
        nn, m = oracle_nearest(truth, others, rc, lambda i, o=o: rng(cfg.seed, "oracle", o, i), scores)
        out.append(dict(id=o, split=split_of[o], kind="oracle", neighbour=nn, **m))
    return out


def run(cfg) -> str:
    run_all(cfg)
    rows = object_rows(cfg)
    split_of = {r["id"]: r["split"] for r in rows}
    retrieved = retrieval_rows(cfg, split_of)
    oracle = oracle_rows(cfg, split_of, load_torch(paths_of(cfg).mapper)["train_ids"])
    found = {"retrieval": retrieved, ORACLE: [dict(r, kind=ORACLE) for r in oracle]}
    shown = compared_metrics(cfg.reconstruct.taus)
    table = []
    for split in ("train", "test"):
        for kind in ("target", "retrieval", ORACLE, "predicted", "refined"):
            sel = [r for r in found.get(kind, rows) if r["split"] == split and r["kind"] == kind]
            if sel:
                table.append(
                    {
                        "split": split,
                        "SIREN": kind,
                        "n": len(sel),
                        **{m.label: m.over(r[m.key] for r in sel) for m in shown},
                    }
                )
    test = {r["SIREN"]: r for r in table if r["split"] == "test"}
    verdict = verdict_of(test.get("predicted"), test.get("retrieval"), cfg.reconstruct.taus)
    return write_result(
        cfg,
        "baseline",
        "Experiment 5: nearest-neighbour retrieval baseline",
        f"route={cfg.mapper.route.value}. Retrieval: nearest train object in the route's input space (the "
        "features its 70 keeps: the hypernetwork sketch for the learned mappers, the probed views for probe; "
        f"excluding the object itself), its target SIREN. The {ORACLE}: the ground-truth shape "
        "of the other training object that scores best against the object's own (it reads the held-out shape: "
        f"the ceiling of retrieving the same objects' ground truths). {rates_note(shown)} {verdict}",
        ["split", "SIREN", "n", *(m.label for m in shown)],
        table,
        extra={"retrieved": retrieved, "oracle": oracle, "verdict": verdict},
    )
