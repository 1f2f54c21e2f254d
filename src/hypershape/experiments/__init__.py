"""The experiments: each runs the pipeline (and its variants) and writes
experiments/<name>/table.md, table.json and figures under the base run's folder."""

import importlib

import matplotlib

matplotlib.use("Agg")  # once, before any module of the package imports pyplot: figures are files, no display

EXPERIMENTS = (
    "routes",
    "heads",
    "anchor",
    "interpolation",
    "baseline",
    "ood",
    "learning_curve",
    "readout",
    "paired",
    "outlines",
    "refinement",
)


def run_experiment(cfg) -> str:
    name = cfg.experiment.name
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment={name!r}: choose one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"hypershape.experiments.{name}").run(cfg)
