"""export: the run's fitted networks as HDF5 shards under <data_dir>/<name>/export/ (layout: the docstring of
src/hypershape/export.py), readable with h5py alone; `hypershape.load_field(file, row or id)` rebuilds one.

Usage: python export.py [preset=default] [key=value ...]  (the same overrides as the run it exports)
"""

import sys

import hydra

import hypershape.config  # noqa: F401  (registers the typed schema)
from hypershape.export import export_run


@hydra.main(config_path="configs", config_name="config", version_base=None)
def entry(cfg) -> None:
    try:
        files = export_run(cfg)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    for path in files.values():
        print(f"{path.stat().st_size:>12,d} bytes  {path}")


if __name__ == "__main__":
    entry()
