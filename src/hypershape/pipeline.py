"""The nine stages in order, the entry point every numbered script shares, and how a job of a Hydra
sweep gets a run of its own."""

from __future__ import annotations

import importlib
import logging
import re
import sys

from .curves import publish
from .nets.checkpoint import CheckpointMismatch
from .paths import paths_of
from .runtime import failure_message
from .settings import check_readout_from, check_upstream, remember
from .stage_specs import STAGES

# script name -> its stage, in running order
STAGE_OF_SCRIPT = {spec.script: spec for spec in STAGES.values()}

# Overrides that choose where or how a job runs, not what it computes: a sweep over them stays one run.
NOT_A_BRANCH = (
    "shard.",
    "hydra",
    "name",
    "data_dir",
    "preset",
    "branch_from",
    "device.threads",
    "device.index",
    "strict",
)


def ready(cfg, stage: str) -> None:
    """Make the run's branch (branch_from) if it is not there yet, then stop (UserError) if readout_from
    names a run whose readout does not fit cfg, or (UpstreamStale) if a stage before `stage` was made with
    other settings than cfg's."""
    from .runtime import branch_run

    if cfg.branch_from:
        branch_run(paths_of(cfg), cfg.branch_from)
    check_readout_from(cfg)
    check_upstream(cfg, stage)


def run_stage(script: str, cfg) -> dict:
    """Run one stage by its script name on a composed config, once its upstream is checked (ready)."""
    ready(cfg, STAGE_OF_SCRIPT[script].folder)
    return run_checked(script, cfg)


def run_checked(script: str, cfg) -> dict:
    """run_stage without the upstream check, for a caller that has just made it."""
    module = importlib.import_module(f"hypershape.stages.{STAGE_OF_SCRIPT[script].module}")
    try:
        result = module.run(cfg)
    except CheckpointMismatch as e:  # the same error, told which script remakes the checkpoint
        raise CheckpointMismatch(e.section, failure_message(e)).with_traceback(e.__traceback__) from None
    publish(cfg, STAGE_OF_SCRIPT[script].folder)  # its loss curves as TensorBoard events
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
    """What a numbered script does (run_pipeline.py: script None, every stage): its config composed with the
    run's remembered overrides, then its stage run, its command line's overrides remembered once the stage
    may run. Objects that failed are counted on stderr; with strict=true they make the exit code 1. A
    user's mistake raises UserError (entry.run says it in one line)."""
    from .entry import settled, speaking

    with speaking():
        cfg, overrides = settled(cfg)
        sweep_run_name(cfg)
        ready(cfg, STAGE_OF_SCRIPT[script].folder if script else next(iter(STAGES)))
        remember(cfg, overrides)
        results = {script: run_checked(script, cfg)} if script else run_all(cfg)
    failed = 0
    for name, result in results.items():
        if result.get("failed"):
            failed += result["failed"]
            print(f"{name}: {result['failed']} object(s) failed (reasons above and in its log.txt)", file=sys.stderr)
    if failed and cfg.strict:
        sys.exit(1)
