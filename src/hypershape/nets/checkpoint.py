"""Networks are rebuilt from the config section saved in their own checkpoint (nanoGPT's model_args), not
from the live config: a checkpoint says how it was built. If an architecture field of the live config
differs, the checkpoint was made for another network and loading it is an error naming the config section;
what to rerun for it is the stage table's to say (stage_specs.made_by), since nets/ knows no stages."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from ..errors import UserError

# The fields of each section that change a network's shape (the others only change how it is trained).
ARCHITECTURE = {
    "hypernet": ("hidden", "heads"),
    "weight_ae": ("latent", "hidden", "heads"),
    "mapper": ("route", "sketch_dim", "hidden", "heads"),
}


class CheckpointMismatch(UserError, ValueError):
    """A checkpoint was built with another architecture than the live config asks for; `section` is the
    config section of its network (hypernet, weight_ae, mapper)."""

    def __init__(self, section: str, message: str):
        super().__init__(message)
        self.section = section


def _plain(section) -> dict:
    if isinstance(section, DictConfig):
        return OmegaConf.to_container(section, resolve=True, enum_to_str=True)
    return {k: getattr(v, "value", v) for k, v in dict(section).items()}


def built_with(ckpt: dict, section: str, live, name: str) -> DictConfig:
    """The `section` config that built the network in `ckpt` (the file `name`), after checking that its
    architecture fields equal those of the live config section `live`."""
    saved = ckpt.get("config")
    if saved is None:
        raise CheckpointMismatch(section, f"{name} carries no config (made by older code)")
    live = _plain(live)
    for field in ARCHITECTURE[section]:
        if saved.get(field) != live[field]:
            raise CheckpointMismatch(
                section, f"{name} was built with {section}.{field}={saved.get(field)}, the config says {live[field]}"
            )
    return OmegaConf.create(saved)
