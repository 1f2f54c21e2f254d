"""Seconds to record one object in a stage's manifest, at N = 100 and N = 10,000 records already there
(one JSON file per record, written atomically: the cost should not grow with N).
Usage: python benchmarks/manifest_record.py [--sizes 100 10000] [--dir /tmp/somewhere-on-the-filesystem-to-test]"""

import argparse
import tempfile
import time
from pathlib import Path

from hypershape.records import Manifest

INFO = dict(psnr_mean=41.2, psnr_min=38.9, split="train")  # a typical record's figures


def fill(m: Manifest, n: int) -> None:
    for i in range(n):
        m.done(f"obj{i:06d}", "k" * 16, [], {"config": "c", "code": "c", "upstream": {"a": "b"}}, **INFO)


def time_records(m: Manifest, repeats: int) -> float:
    t = time.perf_counter()
    for i in range(repeats):
        m.done(f"new{i:06d}", "k" * 16, [], {"config": "c", "code": "c", "upstream": {"a": "b"}}, **INFO)
    return (time.perf_counter() - t) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    a = ap.parse_args()
    print(f"{'N':>8} {'record one object':>20} {'read one record':>17} {'list all ids':>14}")
    for n in a.sizes:
        with tempfile.TemporaryDirectory(dir=a.dir) as d:
            m = Manifest(Path(d) / "manifest", Path(d))
            fill(m, n)
            per = time_records(m, a.repeats)
            t = time.perf_counter()
            for i in range(a.repeats):
                m.get(f"obj{i % n:06d}")
            read = (time.perf_counter() - t) / a.repeats
            t = time.perf_counter()
            ids = m.ids()
            listing = time.perf_counter() - t
            assert len(ids) == n + a.repeats
            print(f"{n:>8} {per * 1e3:>17.3f} ms {read * 1e3:>14.3f} ms {listing:>12.3f} s")


if __name__ == "__main__":
    main()
