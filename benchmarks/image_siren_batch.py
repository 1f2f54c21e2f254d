"""How fast are image-SIRENs fitted one at a time vs as one batched program? Prints SIREN-steps per second
for each batch size on this machine, so `image_siren.batch` can be set from a measurement.

    python benchmarks/image_siren_batch.py [preset=default] [device=cuda] [+batches=[1,8,24,96]]
"""

import time

import hydra
import torch

import hypershape.config  # noqa: F401
from hypershape.nets.siren import pixel_grid, siren_forward
from hypershape.runtime import numerics_of
from hypershape.stages.common import image_spec
from hypershape.training import fit_flat


@hydra.main(config_path="../configs", config_name="config", version_base=None)
def main(cfg) -> None:
    num = numerics_of(cfg)
    dev = num.device
    spec = image_spec(cfg)
    coords = pixel_grid(cfg.render.resolution).to(dev)
    steps = 30
    print(
        f"preset={cfg.preset} device={dev} image-SIREN {spec.numel} weights, "
        f"{cfg.render.resolution}x{cfg.render.resolution} px, {steps} steps, threads={torch.get_num_threads()}"
    )
    print("| batch | SIREN-steps/s | s per 24 views x 300 steps |\n|---|---|---|")
    for batch in cfg.get("batches", [1, 4, 8, 24, 48]):
        images = torch.rand(batch, coords.shape[0], 3, device=dev)
        flat0 = spec.init(torch.Generator().manual_seed(0)).to(dev).expand(batch, -1)
        loss = lambda f, s, images=images: ((siren_forward(spec, f, coords, num.compile) - images) ** 2).mean((1, 2))
        fit_flat(flat0, loss, 3, 1e-3, "warmup", numerics=num)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fit_flat(flat0, loss, steps, 1e-3, "bench", numerics=num)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        rate = batch * steps / (time.perf_counter() - t)
        print(f"| {batch} | {rate:.1f} | {24 * 300 / rate:.1f} |")


if __name__ == "__main__":
    main()
