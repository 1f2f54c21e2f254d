"""Wall time of stages 40 and 50 in one process with 2 threads against 2 shards (Hydra's joblib launcher)
with 1 thread each, on the same machine and the same objects. Run it on a quiet machine.
Usage: python benchmarks/shards_vs_threads.py [--preset default] [--data /tmp/shards-bench]"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYOPENGL_PLATFORM="egl")


def run(*args: str) -> float:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--data", default="/tmp/shards-bench")
    a = ap.parse_args()
    base = [f"preset={a.preset}", f"data_dir={a.data}"]
    for s in ("01_download", "02_watertight", "03_render_views"):  # shared input, made once, not timed
        run(f"{s}.py", *base)
    root = Path(a.data) / a.preset
    rows = []
    for script, stage in (("40_train_image_sirens", "40_image_sirens"), ("50_train_hypernets", "50_hypernets")):
        times = {}
        for mode in ("1 process x 2 threads", "2 shards x 1 thread"):
            for later in ("40_image_sirens", "50_hypernets"):
                if later >= stage:
                    shutil.rmtree(root / later, ignore_errors=True)
            if stage == "50_hypernets" and not (root / "40_image_sirens").exists():
                run("40_train_image_sirens.py", *base)
            if mode.startswith("1"):
                times[mode] = run(f"{script}.py", *base, "device.threads=2")
            else:
                times[mode] = run(
                    f"{script}.py",
                    "-m",
                    "hydra/launcher=joblib",
                    "hydra.launcher.n_jobs=2",
                    "shard.count=2",
                    "shard.index=0,1",
                    "device.threads=1",
                    "shard.poll_s=0.5",
                    *base,
                )
        one, two = times.values()
        rows.append((stage, one, two, one / two))
    print(f"{'stage':<18}{'1 proc x 2 thr':>16}{'2 shards x 1 thr':>18}{'speed-up':>10}")
    for stage, one, two, ratio in rows:
        print(f"{stage:<18}{one:>14.1f} s{two:>16.1f} s{ratio:>9.2f}x")


if __name__ == "__main__":
    main()
