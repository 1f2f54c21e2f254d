"""Gather every experiment's table and figures into data/<name>/report.md: python report.py [preset=default]"""

import hydra

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.entry import run, settled, speaking
from hypershape.experiments.report import write_report


@hydra.main(config_path="configs", config_name="config", version_base=None)
def entry(cfg) -> None:
    with speaking():
        cfg, _ = settled(cfg)  # the run's remembered overrides, under the command line's
        write_report(cfg)


if __name__ == "__main__":
    run(entry)
