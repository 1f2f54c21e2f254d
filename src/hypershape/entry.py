"""How every script at the repository root starts and stops: the config it works on (the run's remembered
overrides under its own command line, settings.py), and errors a user can act on said in one line,
`error: ...`, exit code 2, no traceback: a UserError, or a command line Hydra cannot compose (an unknown key,
a wrong type, an override it cannot parse; HYDRA_FULL_ERROR=1 still shows Hydra's whole report)."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Callable, Iterator

from hydra.errors import HydraException

from . import help  # noqa: F401  (registers the resolver --help's template calls)
from .errors import UserError
from .settings import with_remembered


def command_line() -> list[str]:
    """The overrides of this job's command line (a sweep job's own values included); [] outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def settled(cfg) -> tuple:
    """(config, overrides): the config a script works on, cfg with the run's remembered overrides under
    its command line's, and those overrides (settings.with_remembered)."""
    from hydra import compose

    return with_remembered(cfg, command_line(), lambda overrides: compose("config", overrides=overrides))


def one_line(e: BaseException) -> str:
    """Hydra's report of a config it cannot compose, in one line: its message, the first line of the
    OmegaConf error under it, the options it lists joined by commas, without the search path."""
    text = str(e).split("Config search path:")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("See https")]
    items = [line.strip() for line in text.splitlines() if line.startswith(("\t", "    ")) and line.strip()]
    head = [line for line in lines if line not in items]
    said = " ".join(head) + (" " + ", ".join(items) if items else "")
    if e.__cause__ is not None and str(e.__cause__).strip():
        said = f"{said.rstrip('.')}: {str(e.__cause__).strip().splitlines()[0]}"
    return said


@contextlib.contextmanager
def speaking() -> Iterator[None]:
    """Around a script's work, inside its Hydra job: a UserError ends it in one line (raised on, Hydra
    would add a line of its own)."""
    try:
        yield
    except UserError as e:
        _stop(str(e))


def run(entry: Callable[[], None]) -> None:
    """Call a script's @hydra.main entry; a command line Hydra cannot compose ends it in one line."""
    full = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing its own report (many lines)
    try:
        entry()
    except HydraException as e:
        if full:
            raise
        _stop(f"{one_line(e)} (`python {os.path.basename(sys.argv[0])} --help` lists the settings)")


def _stop(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)
