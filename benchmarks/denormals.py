"""What flushing subnormal floats to zero (importing hypershape.runtime sets it) saves on the CPU. softplus with
beta 100 computes exp(100 x), which for x between about -1.03 and -0.87 is a subnormal float; x86 CPUs
compute those many times slower. Times training steps of the two softplus networks at their cpu100 sizes,
from the same weights and batches, with the flush off and on, and prints the losses both reach. Each
condition runs in a fresh process that sets the flag (over the package's own, set on import) before its
first torch op: the flag is per thread, and torch's worker threads take it from the thread that starts them.

    python benchmarks/denormals.py [--steps 20] [--threads 2]
"""

import argparse
import multiprocessing as mp
import time

import torch

from hypershape.nets.shape_decoder import ShapeDecoder
from hypershape.readout.autodecode import clamped_l1
from hypershape.readout.view_field import ViewField


def view_field_step(seed: int):
    """A ViewField (3 x 128 on 4 blurs x 24 views) and one step's batch: 16 objects x 2048 points."""
    g = torch.Generator().manual_seed(seed)
    net = ViewField(96, 128, 3)
    feats = (torch.rand(16, 2048, 96, generator=g) * 1.5).clamp(max=1.0)  # saturated brightness: many 1s
    sdf = torch.rand(16, 2048, generator=g) * 0.2 - 0.1
    return net, lambda: clamped_l1(net(feats), sdf, 0.1).mean()


def decoder_step(seed: int):
    """A ShapeDecoder (64-d latent, 4 x 128, 4 frequencies) and one step's batch: 16 objects x 2048 points."""
    g = torch.Generator().manual_seed(seed)
    net = ShapeDecoder(64, 128, 4, 4)
    z = torch.randn(16, 64, generator=g) / 8
    x = torch.rand(16, 2048, 3, generator=g) * 2 - 1
    sdf = torch.rand(16, 2048, generator=g) * 0.2 - 0.1
    return net, lambda: clamped_l1(net(z, x), sdf, 0.1).mean()


def timed(make, steps: int) -> tuple[float, float]:
    """Seconds per Adam step and the last loss."""
    torch.manual_seed(0)
    net, loss_fn = make(0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = None
    for step in range(steps + 1):
        if step == 1:  # after one step: allocations
            start = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps, float(loss.detach())


NETWORKS = {"view field": view_field_step, "shape decoder": decoder_step}


def child(flush: bool, threads: int, steps: int, out) -> None:
    torch.set_flush_denormal(flush)
    torch.set_num_threads(threads)
    out.put({name: timed(make, steps) for name, make in NETWORKS.items()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    ctx = mp.get_context("spawn")
    got = {}
    for flush in (False, True):
        out = ctx.Queue()
        proc = ctx.Process(target=child, args=(flush, a.threads, a.steps, out))
        proc.start()
        got[flush] = out.get()
        proc.join()
    print(f"{a.threads} threads, {a.steps} steps")
    print(
        f"| network | s/step, subnormals kept | s/step, flushed | speed-up | loss at step {a.steps} (kept, flushed) |"
    )
    print("|---|---|---|---|---|")
    for name in NETWORKS:
        (slow, loss_slow), (fast, loss_fast) = got[False][name], got[True][name]
        print(f"| {name} | {slow:.3f} | {fast:.3f} | {slow / fast:.1f}x | {loss_slow:.6f}, {loss_fast:.6f} |")


if __name__ == "__main__":
    main()
