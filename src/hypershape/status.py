"""What is left to run: per stage, how many objects are done, stale (and why), failed (and why) and
missing, over every shard's records. Reads manifests and file stats only (no torch, no outputs)."""

from __future__ import annotations

from collections import Counter

from .objects import load_objects
from .paths import paths_of, readout_paths
from .provenance import PACKAGE_DIR, code_version, object_config, shared_config, stage_code, stage_numerics
from .records import Manifest, fingerprint
from .stage_specs import STAGES

PARTS = ("code", "source_code", "config", "numerics")
"""The parts of a record's key that status compares with what the stage would make now."""


def label(part: str) -> str:
    """How status names a changed part of a key (source_code: "source code")."""
    return part.replace("_", " ")


def object_state(
    m: Manifest, obj_id: str, entry: dict | None, expected: dict, keys: dict, bad: dict
) -> tuple[str, str]:
    """(state, why) of one object's record against what the stage would make now."""
    if entry is None:
        return "missing", ""
    if entry["status"] != "done":
        return "failed", entry.get("reason") or "?"
    parts = entry.get("parts") or {}
    why = [label(k) for k in PARTS if k in expected and parts.get(k) != expected[k]]
    ups = parts.get("upstream") or {}
    if any(k != keys[up].get(obj_id) or obj_id in bad[up] for up, k in ups.items() if up in keys):
        why.append("upstream")
    if any(k != m.key(name, shared=True) for name, k in (parts.get("shared") or {}).items()):
        why.append("shared artifact")
    if not m.outputs_intact(entry):
        why.append("outputs changed on disk")
    return ("stale", ", ".join(why)) if why else ("done", "")


def expected_parts(cfg, stage: str) -> dict:
    """The code, config and numerics parts a record of `stage` made now would carry (01 keys each object on
    its catalogue entry or file, not on config, and on the code of the source it comes from, which it
    imports by name; only a device-dependent stage carries numerics)."""
    expected = dict(code=stage_code(stage))
    if stage == "01_download":
        # the module sources.source_module imports, named rather than imported (that would load trimesh)
        expected["source_code"] = code_version(f"{PACKAGE_DIR.name}.sources.{cfg.data.source.value}")
    else:
        expected["config"] = fingerprint(object_config(cfg, stage))
    numerics = stage_numerics(cfg, stage)
    if numerics is not None:
        expected["numerics"] = numerics
    return expected


def shared_states(cfg, stage: str, m: Manifest, expected: dict) -> dict[str, str]:
    """{artifact: "done" or "stale (why)"} of a stage's shared artifacts (anchors, the autoencoder)."""
    shared = {}
    if not (m.exists() and (m.dir / "shared").is_dir()):
        return shared
    for f in sorted((m.dir / "shared").glob("*.json")):
        e = m.get(f.stem, shared=True)
        parts = e.get("parts") or {}
        now = dict(expected, config=fingerprint(shared_config(cfg, stage, f.stem)))
        changed = [label(k) for k in PARTS if parts.get(k) != now.get(k)]
        if not m.outputs_intact(e):
            changed.append("outputs changed on disk")
        if cfg.readout_from and "readout_key" in e:  # taken from that run (Stage.take_shared): remade there since?
            theirs = readout_paths(cfg)
            if Manifest(theirs.manifest(stage), theirs.root).key(f.stem, shared=True) != e["readout_key"]:
                changed.append(f"remade in run {cfg.readout_from}")
        shared[f.stem] = "done" if e["status"] == "done" and not changed else f"stale ({', '.join(changed)})"
    return shared


def run_status(cfg) -> dict:
    """Per stage: counts of done / stale / failed / missing objects, the reasons, and shared artifacts."""
    p = paths_of(cfg)
    listed = load_objects(p.objects) if p.objects.exists() else []
    ids = [o.id for o in listed if o.fetched]
    evaluated = [o.id for o in listed if o.fetched and o.split in cfg.eval_splits]
    out, keys, bad = {}, {}, {}  # keys: each stage's record keys, read once
    for stage, spec in STAGES.items():
        m = Manifest(p.manifest(stage), p.root)
        expected = expected_parts(cfg, stage)
        if stage == "01_download":
            todo = [o.id for o in listed]
        else:  # 80 and 90 make only the objects of cfg.eval_splits
            todo = evaluated if spec.evaluated_only else ids
        keys[stage], bad[stage] = {}, set()
        counts, why, failures = Counter(), Counter(), {}
        for i in todo:
            e = m.get(i)
            if e is not None:
                keys[stage][i] = e["key"]
            state, reason = object_state(m, i, e, expected, keys, bad)
            counts[state] += 1
            if state != "done":
                bad[stage].add(i)
            if state == "stale":
                why[reason] += 1
            elif state == "failed":
                failures[i] = reason
        out[stage] = dict(
            exists=m.exists(),
            total=len(todo),
            done=counts["done"],
            stale=counts["stale"],
            stale_why=dict(why),
            failed=counts["failed"],
            failures=failures,
            missing=counts["missing"],
            shared=shared_states(cfg, stage, m, expected),
        )
    return out


def format_status(cfg, status: dict) -> str:
    p = paths_of(cfg)
    lines = [
        f"run {p.root} (route {p.route})",
        "",
        f"{'stage':<18}{'done':>6}{'stale':>7}{'failed':>8}{'missing':>9}  shared / why stale",
    ]
    for stage, s in status.items():
        if not s["exists"]:
            lines.append(f"{stage:<18}{'not run':>6}")
            continue
        notes = [f"{k}: {v}" for k, v in s["shared"].items()]
        notes += [f"{n} stale ({why})" for why, n in s["stale_why"].items()]
        lines.append(f"{stage:<18}{s['done']:>6}{s['stale']:>7}{s['failed']:>8}{s['missing']:>9}  " + "; ".join(notes))
    failures = [(stage, i, r) for stage, s in status.items() for i, r in s["failures"].items()]
    if failures:
        lines += ["", "failed:"] + [f"  {stage} {i}: {r}" for stage, i, r in failures]
    return "\n".join(lines)
