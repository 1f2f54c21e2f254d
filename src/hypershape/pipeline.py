"""The nine stages in order, and the entry point every numbered script shares."""
from __future__ import annotations

import importlib
import logging
import sys

from .paths import SCRIPTS
from .runtime import MissingUpstream

# script name -> module in hypershape.stages, in running order
STAGES = dict(zip(SCRIPTS.values(), ("download", "watertight", "render_views", "image_sirens", "hypernets",
                                     "weight_ae", "mapper", "shape_sirens", "reconstruct")))


def run_stage(script: str, cfg) -> dict:
    """Run one stage by its script name on a composed config."""
    module = importlib.import_module(f"hypershape.stages.{STAGES[script]}")
    return module.run(cfg)


def run_all(cfg, until: str | None = None) -> dict:
    """Run every stage in order (up to and including `until`); returns each stage's counts."""
    results = {}
    for script in STAGES:
        results[script] = run_stage(script, cfg)
        if script == until:
            break
    failed = {s: r["failures"] for s, r in results.items() if r.get("failures")}
    if failed:
        logging.getLogger("hypershape").warning("objects failed: %s", failed)
    return results


def main(script: str, cfg) -> None:
    """What a numbered script does: run its stage, exit 2 with a clear message if upstream is missing."""
    try:
        result = run_stage(script, cfg)
    except MissingUpstream as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if result.get("failed"):
        print(f"{script}: {result['failed']} object(s) failed (reasons above and in its log.txt)", file=sys.stderr)
