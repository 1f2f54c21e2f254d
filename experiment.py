"""Run one experiment on a preset: python experiment.py experiment=routes [preset=default]
Experiments: routes, heads, anchor, interpolation, baseline, ood, learning_curve, readout, paired, outlines,
refinement (configs/experiment/, src/hypershape/experiments/)."""

import hydra

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.entry import run, settled, speaking
from hypershape.experiments import run_experiment


@hydra.main(config_path="configs", config_name="config", version_base=None)
def entry(cfg) -> None:
    with speaking():
        cfg, _ = settled(cfg)  # the run's remembered overrides, under the command line's
        run_experiment(cfg)


if __name__ == "__main__":
    run(entry)
