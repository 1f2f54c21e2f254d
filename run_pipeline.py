"""All nine stages in order, in one process: python run_pipeline.py [preset=default] [key=value ...]"""
import hydra

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.pipeline import run_all


@hydra.main(config_path="configs", config_name="config", version_base=None)
def entry(cfg) -> None:
    run_all(cfg)


if __name__ == "__main__":
    entry()
