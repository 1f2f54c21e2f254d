"""What each stage costs: wall time, seconds per object (from the stage's records), the shared artifacts'
seconds (anchors, the autoencoder, the mapper), peak RSS and disk per object. Each numbered script runs as
its own process, so its peak RSS is its own. Run it on a quiet machine: two heavy jobs halve each other.

Usage:
    python benchmarks/stage_costs.py preset=default data_dir=/tmp/costs          # run all nine, then report
    python benchmarks/stage_costs.py --report-only preset=cpu100                  # report on a finished run
    python benchmarks/stage_costs.py --from 40_train_image_sirens preset=n100 image_siren.steps=2 ...

Prints a table and writes <run>/stage_costs.json. Seconds per object are the mean over the objects this
invocation made (a batch's time is split evenly among its objects); objects made by an earlier run keep
the seconds they took then."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.paths import SCRIPTS, STAGE_DIRS, paths_of
from hypershape.records import Manifest, atomic_write

ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, overrides: list[str]) -> tuple[float, float]:
    """Run one numbered script; (wall seconds, peak RSS in MiB) of that process alone."""
    env = dict(os.environ, PYOPENGL_PLATFORM=os.environ.get("PYOPENGL_PLATFORM", "egl"))
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, f"{script}.py", *overrides], cwd=ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{script}.py failed (exit {os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def stage_figures(cfg, stage: str) -> dict:
    """Seconds per object, shared seconds and disk, read from the stage's records."""
    p = paths_of(cfg)
    m = Manifest(p.manifest(stage), p.root)
    objects, shared = [], []
    for name in m.ids():
        e = m.get(name)
        if e and e["status"] == "done":
            objects.append(e)
    for f in sorted((p.manifest(stage) / "shared").glob("*.json")):
        e = m.get(f.stem, shared=True)
        if e and e["status"] == "done":
            shared.append((f.stem, e))

    def disk(e: dict) -> int:
        return sum(size for size, _mtime in (e.get("outputs") or {}).values())

    timed = [e["seconds"] for e in objects if "seconds" in e]
    return dict(
        objects=len(objects),
        seconds_per_object=sum(timed) / len(timed) if timed else None,
        shared_seconds={name: e.get("seconds") for name, e in shared},
        disk_per_object_mb=sum(disk(e) for e in objects) / len(objects) / 2**20 if objects else 0.0,
        shared_disk_mb=sum(disk(e) for _, e in shared) / 2**20,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report-only", action="store_true", help="run nothing, report on the run's records")
    ap.add_argument("--from", dest="start", default=SCRIPTS[STAGE_DIRS[0]], help="first script to run")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, as for the numbered scripts")
    a = ap.parse_args()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base=None):
        cfg = compose("config", overrides=a.overrides)
    scripts = [SCRIPTS[s] for s in STAGE_DIRS]
    if a.start not in scripts:
        raise SystemExit(f"--from must be one of {scripts}")
    measured = {}
    if not a.report_only:
        for stage in STAGE_DIRS[scripts.index(a.start) :]:
            measured[stage] = run_script(SCRIPTS[stage], a.overrides)
    rows = []
    for stage in STAGE_DIRS:
        fig = stage_figures(cfg, stage)
        wall, rss = measured.get(stage, (None, None))
        rows.append(dict(stage=stage, wall_s=wall, peak_rss_mb=rss, **fig))
    header = f"{'stage':<18}{'wall s':>9}{'s/object':>10}{'shared s':>10}{'peak RSS MB':>13}{'MB/object':>11}"
    lines = [f"run {cfg.name} ({paths_of(cfg).root}), {len(a.overrides)} overrides: {' '.join(a.overrides)}", header]
    for r in rows:

        def f(v, fmt):
            width = int(fmt.split(".")[0])
            return format(v, fmt) if v is not None else "-".rjust(width)

        shared_s = sum(v for v in r["shared_seconds"].values() if v is not None) or None
        lines.append(
            f"{r['stage']:<18}{f(r['wall_s'], '9.1f')}{f(r['seconds_per_object'], '10.2f')}"
            f"{f(shared_s, '10.1f')}{f(r['peak_rss_mb'], '13.0f')}{r['disk_per_object_mb']:11.2f}"
        )
    per_object = [r["seconds_per_object"] for r in rows if r["seconds_per_object"] is not None]
    lines.append(f"{'sum over stages':<18}{'':>9}{sum(per_object):10.2f}  seconds per object")
    text = "\n".join(lines)
    print(text)
    out = paths_of(cfg).root / "stage_costs.json"
    atomic_write(out, lambda q: q.write_text(json.dumps(dict(overrides=a.overrides, rows=rows, peak_rss_unit="MiB"))))
    print(f"written {out}")


if __name__ == "__main__":
    main()
