"""80_train_shape_sirens: see src/hypershape/stages/ and docs/design.md.

Usage: python 80_train_shape_sirens.py [preset=default] [key=value ...]
"""

import hydra

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.entry import run


@hydra.main(config_path="configs", config_name="config", version_base=None)
def entry(cfg) -> None:
    from hypershape.pipeline import main  # torch loads after the command line composed: a mistake in it stops at once

    main("80_train_shape_sirens", cfg)


if __name__ == "__main__":
    run(entry)
