"""Networks are rebuilt from the config section saved in their own checkpoint (nanoGPT's model_args), not
from the live config: a checkpoint says how it was built. If an architecture field of the live config
differs, the checkpoint was made for another network and loading it is an error that says what to rerun."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from ..errors import UserError
from ..paths import SCRIPTS

# The fields of each section that change a network's shape (the others only change how it is trained).
ARCHITECTURE = {
    "hypernet": ("hidden", "heads"),
    "weight_ae": ("latent", "hidden", "heads"),
    "mapper": ("route", "sketch_dim", "hidden", "heads"),
}
MADE_BY = {"hypernet": "50_hypernets", "weight_ae": "60_weight_ae", "mapper": "70_mapper"}


class CheckpointMismatch(UserError, ValueError):
    """A checkpoint was built with another architecture than the live config asks for."""


def _plain(section) -> dict:
    if isinstance(section, DictConfig):
        return OmegaConf.to_container(section, resolve=True, enum_to_str=True)
    return {k: getattr(v, "value", v) for k, v in dict(section).items()}


def built_with(ckpt: dict, section: str, live, name: str) -> DictConfig:
    """The `section` config that built the network in `ckpt` (the file `name`), after checking that its
    architecture fields equal those of the live config section `live`."""
    script = f"{SCRIPTS[MADE_BY[section]]}.py"
    saved = ckpt.get("config")
    if saved is None:
        raise CheckpointMismatch(f"{name} carries no config (made by older code): rerun {script}")
    live = _plain(live)
    for field in ARCHITECTURE[section]:
        if saved.get(field) != live[field]:
            raise CheckpointMismatch(
                f"{name} was built with {section}.{field}={saved.get(field)}, "
                f"the config says {live[field]}: rerun {script}"
            )
    return OmegaConf.create(saved)
