"""The nine stages in order, the entry point every numbered script shares, and how a job of a Hydra
sweep gets a run of its own."""

from __future__ import annotations

import importlib
import logging
import re
import sys

from .curves import publish
from .paths import MODULES, SCRIPTS, STAGE_DIRS
from .runtime import MissingUpstream, SharedArtifactBusy

# script name -> stage folder, in running order
STAGE_OF_SCRIPT = {SCRIPTS[d]: d for d in STAGE_DIRS}

# Overrides that choose where or how a job runs, not what it computes: a sweep over them stays one run.
NOT_A_BRANCH = ("shard.", "hydra", "name", "data_dir", "preset", "branch_from", "device.threads", "device.index")


def run_stage(script: str, cfg) -> dict:
    """Run one stage by its script name on a composed config."""
    module = importlib.import_module(f"hypershape.stages.{MODULES[STAGE_OF_SCRIPT[script]]}")
    result = module.run(cfg)
    publish(cfg, STAGE_OF_SCRIPT[script])  # its loss curves as TensorBoard events, or 90's figure of them
    return result


def run_all(cfg, until: str | None = None) -> dict:
    """Run every stage in order (up to and including `until`); returns each stage's counts."""
    results = {}
    for script in STAGE_OF_SCRIPT:
        results[script] = run_stage(script, cfg)
        if script == until:
            break
    failed = {s: r["failures"] for s, r in results.items() if r.get("failures")}
    if failed:
        logging.getLogger("hypershape").warning("objects failed: %s", failed)
    return results


def sweep_run_name(cfg) -> None:
    """In a Hydra multirun (`-m a=1,2`), give each job its own run, named after the overrides that change
    what it computes (`default+hypernet.steps=500`) and branched from the run it would otherwise write
    into, so its upstream stages are reused, not recomputed. Shard and launcher overrides stay in one run."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    task = list(HydraConfig.get().overrides.task)
    if any(o.split("=", 1)[0].lstrip("+~") == "name" for o in task):
        return  # a name given is used as it is
    own = sorted(o for o in task if not o.lstrip("+~").startswith(NOT_A_BRANCH))
    if own:
        cfg.branch_from = cfg.branch_from or cfg.name
        cfg.name = cfg.name + "+" + re.sub(r"[^A-Za-z0-9_.,=+-]", "_", ",".join(own))


def main(script: str | None, cfg) -> None:
    """What a numbered script does (run_pipeline.py: script None, every stage): run its stage, exit 2 with
    a clear message if upstream is missing."""
    sweep_run_name(cfg)
    try:
        results = {script: run_stage(script, cfg)} if script else run_all(cfg)
    except (MissingUpstream, SharedArtifactBusy) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    for name, result in results.items():
        if result.get("failed"):
            print(f"{name}: {result['failed']} object(s) failed (reasons above and in its log.txt)", file=sys.stderr)
