"""Gather every experiment's table and figures into data/<name>/report.md: python report.py [preset=default]"""

import hydra

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.experiments.report import write_report


@hydra.main(config_path="configs", config_name="config", version_base=None)
def entry(cfg) -> None:
    write_report(cfg)


if __name__ == "__main__":
    entry()
