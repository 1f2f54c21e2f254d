"""Kill trials: does every stage resume from a SIGKILL to exactly the result of an uninterrupted run?

    python scripts/kill_trials.py --preset tiny --trials 5 --seed 0 [hydra overrides ...]

Runs a reference pipeline once (each numbered script as a subprocess, timing each). Then for each stage
02..90 and each trial: copies the reference's earlier stages into a fresh run, starts the stage's script,
SIGKILLs it at a random moment of its work (after its start-up, within the reference's working time), runs
the stage again to completion,
runs the rest of the pipeline, and compares the final 90 summary.json rows with the reference's. Prints a
table: stage, trials, killed mid-run (it had records left to make when killed), resumed ok (the rerun
exited 0, left no temporary file and records every object as the reference does), summary equal. Exits 1
if any trial did not resume or ended with another summary. CPU-heavy: one trial per stage takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hypershape.paths import SCRIPTS, STAGE_DIRS  # noqa: E402

ENV = dict(
    os.environ,
    PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    PYOPENGL_PLATFORM=os.environ.get("PYOPENGL_PLATFORM", "egl"),
)
NAME = "kill"  # the run's name in every data dir: <data_dir>/kill/


def command(script: str, data_dir: Path, overrides: list[str]) -> list[str]:
    return [sys.executable, f"{script}.py", f"data_dir={data_dir}", f"name={NAME}", *overrides]


def run(script: str, data_dir: Path, overrides: list[str]) -> float:
    """Run a script to completion; its duration in seconds. Stops the trials if it fails."""
    start = time.monotonic()
    out = subprocess.run(command(script, data_dir, overrides), cwd=ROOT, env=ENV, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{script} failed in {data_dir} (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return time.monotonic() - start


def records(root: Path, stage: str) -> dict[str, str]:
    """Status of every record (objects and shared artifacts) of a stage, routed stages' every route."""
    return {
        str(f.relative_to(root / stage)): json.loads(f.read_text())["status"]
        for f in sorted((root / stage).rglob("manifest/*/*.json"))
        if not f.name.startswith(".")
    }


def temporaries(root: Path, stage: str) -> list[Path]:
    """Half-written files (atomic writes go through hidden temporary names) left in a stage's folder."""
    return [f for f in (root / stage).rglob(".*") if f.is_file()]


def summary_rows(root: Path) -> list:
    return [json.loads(f.read_text())["rows"] for f in sorted((root / "90_reconstruct").glob("*/summary.json"))]


def stage_log(root: Path, stage: str) -> str:
    return "".join(f.read_text() for f in sorted((root / stage).rglob("log.txt")))


def work_seconds(root: Path, stage: str) -> float:
    """How long the stage worked in the reference run (its log's "finished in" line), start-up excluded."""
    return float(re.findall(r"finished in ([0-9.]+) s", stage_log(root, stage))[-1])


def done_records(root: Path, stage: str) -> int:
    return sum(s == "done" for s in records(root, stage).values()) if (root / stage).exists() else 0


def trial(stage: str, ref: Path, where: Path, duration: float, overrides: list[str], rnd: random.Random) -> dict:
    root = where / NAME
    for s in STAGE_DIRS[: STAGE_DIRS.index(stage)]:
        shutil.copytree(ref / s, root / s, ignore=shutil.ignore_patterns("claims"))  # copy2 keeps mtimes
    job = subprocess.Popen(
        command(SCRIPTS[stage], where, overrides),
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while f"run {NAME} in" not in stage_log(root, stage) and job.poll() is None:
        time.sleep(0.02)  # start-up (imports, config) is over: the stage's own work begins
    time.sleep(rnd.uniform(0.0, 0.9) * duration)
    job.send_signal(signal.SIGKILL)
    job.wait()
    killed = done_records(root, stage) < done_records(ref, stage)  # it had records left to make
    rerun = subprocess.run(command(SCRIPTS[stage], where, overrides), cwd=ROOT, env=ENV, capture_output=True, text=True)
    resumed = rerun.returncode == 0 and not temporaries(root, stage) and records(root, stage) == records(ref, stage)
    for s in STAGE_DIRS[STAGE_DIRS.index(stage) + 1 :]:
        run(SCRIPTS[s], where, overrides)
    return dict(
        killed=killed,
        resumed=resumed,
        equal=summary_rows(root) == summary_rows(ref),
        error=None if rerun.returncode == 0 else rerun.stderr[-2000:],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--trials", type=int, default=5, help="trials per stage")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill moments (not the pipeline's seed)")
    ap.add_argument("--stages", nargs="*", default=list(STAGE_DIRS[1:]), help="stage folders to kill")
    ap.add_argument("--data-dir", type=Path, default=None, help="where the runs go (default: a temporary dir)")
    ap.add_argument("--keep", action="store_true", help="keep the runs afterwards")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides for every run (e.g. data=local ...)")
    args = ap.parse_args()
    overrides = [f"preset={args.preset}", *args.overrides]
    base = args.data_dir or Path(tempfile.mkdtemp(prefix="kill_trials."))
    rnd = random.Random(args.seed)

    ref_dir = base / "reference"
    for s in STAGE_DIRS:
        run(SCRIPTS[s], ref_dir, overrides)
    ref = ref_dir / NAME
    durations = {s: work_seconds(ref, s) for s in STAGE_DIRS}
    print(
        "reference run (work, start-up excluded):",
        ", ".join(f"{s} {d:.1f} s" for s, d in durations.items()),
        flush=True,
    )

    rows, ok = [], True
    for stage in args.stages:
        results = []
        for k in range(args.trials):
            r = trial(stage, ref, base / f"{stage}-{k}", durations[stage], overrides, rnd)
            results.append(r)
            print(
                f"{stage} trial {k}: killed mid-run {r['killed']}, resumed {r['resumed']}, "
                f"summary equal {r['equal']}" + (f"\n{r['error']}" if r["error"] else ""),
                flush=True,
            )
        rows.append(
            (
                stage,
                len(results),
                sum(r["killed"] for r in results),
                sum(r["resumed"] for r in results),
                sum(r["equal"] for r in results),
            )
        )
        ok &= all(r["resumed"] and r["equal"] for r in results)

    print("\n| stage | trials | killed mid-run | resumed ok | summary equal |\n|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(map(str, row)) + " |")
    print(f"\nruns in {base}" if args.keep or not ok else "")
    if not args.keep and ok:
        shutil.rmtree(base, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
