"""status: per stage, what is done, stale (and why), failed (and why) and missing, over all shards.
Usage: python status.py [preset=default] [key=value ...]  (the same overrides as the run it looks at)"""

import hydra

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.entry import run, settled, speaking
from hypershape.status import format_status, run_status


@hydra.main(config_path="configs", config_name="config", version_base=None)
def entry(cfg) -> None:
    with speaking():
        cfg, _ = settled(cfg)  # the run's remembered overrides, under the command line's
        print(format_status(cfg, run_status(cfg)))


if __name__ == "__main__":
    run(entry)
