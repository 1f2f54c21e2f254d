"""Seconds `status` takes on a run of N objects: a synthetic run whose every stage has a record per object
(what a finished run has, without the outputs). Usage: python benchmarks/status_time.py [N ...]"""

import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

import hypershape.config  # noqa: F401  (registers the schema)
from hypershape.paths import STAGE_DIRS, paths_of
from hypershape.provenance import object_config, stage_code, stage_numerics
from hypershape.records import Manifest, fingerprint, save_json
from hypershape.status import run_status

ROOT = Path(__file__).resolve().parents[1]


def fake_run(cfg, n: int) -> None:
    p = paths_of(cfg)
    ids = [f"obj{i:06d}" for i in range(n)]
    save_json(p.objects, [dict(id=i, status="done", split="train") for i in ids])
    previous = None
    for stage in STAGE_DIRS:
        m = Manifest(p.manifest(stage), p.root)
        parts = dict(code=stage_code(stage), numerics=stage_numerics(cfg, stage))
        if stage != "01_download":
            parts["config"] = fingerprint(object_config(cfg, stage))
        for i in ids:
            ups = {previous: previous + i} if previous else {}
            m.done(i, stage + i, [], dict(parts, upstream=ups))
        previous = stage


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000]
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            with initialize_config_dir(str(ROOT / "configs"), version_base=None):
                cfg = compose("config", overrides=[f"data_dir={d}"])
            fake_run(cfg, n)
            t = time.perf_counter()
            s = run_status(cfg)
            dt = time.perf_counter() - t
            assert all(v["done"] == n for v in s.values()), {k: (v["done"], v["stale_why"]) for k, v in s.items()}
            print(f"N = {n:>6}: status of {len(s)} stages in {dt:.2f} s")


if __name__ == "__main__":
    main()
