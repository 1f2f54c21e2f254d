"""Whether route decoder's readout carries to held-out objects (readout/generalisation.py), on a run where
route decoder's 70 is done: the decoder's held-out ceiling, 70's readout, ridge and k-NN readouts of the same
probed views and the training mean, as latent errors and F@0.02 on the test objects; the first
`train_objects` training objects read through 70's readout; with +hull=true, the latent fitted to each
object's drawn hull and that latent corrected by ridge or k-NN learnt on the training objects' hull latents. Writes
<data_dir>/<name>/experiments/readout_generalisation/summary.{md,json}.

    python benchmarks/readout_generalisation.py preset=cpu100 data_dir=/tmp/run [+train_objects=20] [+hull=true]
"""

import hydra

import hypershape.config  # noqa: F401
from hypershape.readout.generalisation import report, run


@hydra.main(config_path="../configs", config_name="config", version_base=None)
def main(cfg) -> None:
    record = run(cfg, int(cfg.get("train_objects", 20)), bool(cfg.get("hull", False)))
    print(report(record, cfg.reconstruct.taus))


if __name__ == "__main__":
    main()
