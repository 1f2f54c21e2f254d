"""What keeping loss curves costs. One process runs every stage of a fresh run and times the curve work
inside it: Stage.keep_curve/keep_shared_curve (the JSON files), ItemLosses.curves (a batched fit's per-item
losses gathered at its end), curves.publish after each stage (TensorBoard events, their imports included:
40's publish imports torch.utils.tensorboard) and 90's convergence figure; it prints that time as a share
of the run's.

ItemLosses' cost inside the loop (a detach and a list append per call of the loss) is too small to time per
call: it is counted, and priced apart as wrapped against unwrapped calls of a loss that returns at once.

    python benchmarks/curves_overhead.py [preset=default] data_dir=/tmp/overhead   (a run that does not exist)
"""

import time
from collections import Counter

import hydra
import torch

import hypershape.config  # noqa: F401
from hypershape import pipeline, runtime, training
from hypershape.paths import paths_of
from hypershape.stages import reconstruct

spent: Counter = Counter()
calls: Counter = Counter()


def timed(owner, name: str, per_stage: bool = False) -> None:
    """Replace owner.name by itself, timed into spent[name] (per_stage: spent[name + its stage argument])."""
    fn = getattr(owner, name)

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[f"{name} {args[1]}" if per_stage else name] += time.perf_counter() - t

    setattr(owner, name, wrapper)


def counted_wrap(self, loss_fn):
    kept = original_wrap(self, loss_fn)

    def counting(*args):
        calls["loss"] += 1
        return kept(*args)

    return counting


original_wrap = training.ItemLosses.wrap


def per_call_cost(items: int = 96, repeats: int = 20000) -> float:
    """Seconds a wrapped loss adds to each call: the best of 5 rounds of `repeats` calls each way."""
    loss = torch.rand(items)

    def bare(*_):
        return loss

    def best(fn) -> float:
        out = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for s in range(repeats):
                fn(s)
            out = min(out, time.perf_counter() - t)
        return out / repeats

    keeper = training.ItemLosses()
    wrapped = original_wrap(keeper, bare)
    cost = best(wrapped) - best(bare)
    keeper.kept.clear()
    return max(cost, 0.0)


@hydra.main(config_path="../configs", config_name="config", version_base=None)
def main(cfg) -> None:
    if paths_of(cfg).root.exists():
        raise SystemExit(f"error: {paths_of(cfg).root} exists; give a fresh data_dir so every stage runs")
    for name in ("keep_curve", "keep_shared_curve"):
        timed(runtime.Stage, name)
    timed(training.ItemLosses, "curves")
    timed(pipeline, "publish", per_stage=True)
    timed(reconstruct, "write_figure")  # 90 draws the convergence figure itself
    training.ItemLosses.wrap = counted_wrap
    t = time.perf_counter()
    pipeline.run_all(cfg)
    total = time.perf_counter() - t
    spent["ItemLosses in the loop"] = calls["loss"] * per_call_cost()
    logging_s = sum(spent.values())
    print(f"\nrun: {total:.1f} s; curve work: {logging_s:.2f} s = {100 * logging_s / total:.2f}% of it")
    for name, s in spent.most_common():
        print(f"  {name}: {s:.3f} s")
    print(f"  (wrapped loss calls: {calls['loss']})")


if __name__ == "__main__":
    main()
