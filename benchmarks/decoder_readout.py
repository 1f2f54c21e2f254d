"""The shared shape decoder and its probe readout, measured on a finished run (stages 01-60 done): medians
of F@0.02 and Chamfer-L1 of the auto-decoded, predicted and view-fitted latents for train and test
objects, beside the routes 90 scored in the same run, and the readout's time per object. Writes
<data_dir>/<name>/experiments/decoder_readout/summary.{md,json}.

    python benchmarks/decoder_readout.py preset=default data_dir=/tmp/run [decoder.steps=...]
"""

import hydra

import hypershape.config  # noqa: F401
from hypershape.paths import paths_of
from hypershape.readout.benchmark import run


@hydra.main(config_path="../configs", config_name="config", version_base=None)
def main(cfg) -> None:
    run(cfg)
    print((paths_of(cfg).experiment("decoder_readout") / "summary.md").read_text())


if __name__ == "__main__":
    main()
