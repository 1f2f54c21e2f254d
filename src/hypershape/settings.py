"""A run's settings. Every script run on a run adds the overrides of its command line to the run's
overrides.yaml, and a later script on the same run composes its config from those first, then from its own
command line (which wins), as if they had been typed again. Where the run is (name, data_dir, preset) and
how a job runs (shards, threads, the launcher, strict) come from the command line alone: the first decide
which overrides.yaml to read, the others are not what was made.

And before a stage runs, every stage before it is checked against this config: one whose records were made
with other settings (the config or device numerics its key holds) stops the stage with a one-line error
that names the values and the script to rerun, so no stage runs on upstream work that is stale under its
own settings. Staleness for other reasons (code, upstream records remade) is the Stage loop's and status'."""

from __future__ import annotations

import logging
import sys

from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .config import Config
from .errors import UserError
from .objects import load_objects
from .paths import SCRIPTS, STAGE_DIRS, paths_of, readout_paths
from .provenance import object_config, shared_config, stage_numerics
from .records import Manifest, fingerprint, save_text
from .stage_specs import STAGES

log = logging.getLogger("hypershape.settings")

# Override keys (and their sub-keys) that say where a run is or how a job runs: never remembered.
NOT_REMEMBERED = (
    "name",
    "data_dir",
    "preset",
    "hydra",
    "shard",
    "device.threads",
    "device.index",
    "branch_from",
    "strict",
    "experiment",
)


class UpstreamStale(UserError):
    """An earlier stage's records were made with other settings than this config's."""


# ---------------------------------------------------------------- overrides
def _key(override: str) -> str:
    """The config key or group an override sets: `+hypernet.steps=5` -> hypernet.steps, `hypernet=x` ->
    hypernet, `hydra/launcher=slurm` -> hydra.launcher."""
    return override.split("=", 1)[0].lstrip("+~").replace("/", ".")


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def merge(remembered: list[str], given: list[str]) -> list[str]:
    """The overrides a config is composed from: the remembered ones the command line does not set (a key
    given covers the same key and everything under it: `hypernet=x` drops a remembered `hypernet.heads=y`),
    then the command line's."""
    keys = [_key(o) for o in given]
    return [o for o in remembered if not any(_under(_key(o), k) for k in keys)] + list(given)


def remembered_part(overrides: list[str]) -> list[str]:
    """The overrides that describe what a run makes (the others say where it is or how a job runs)."""
    return [o for o in overrides if not any(_under(_key(o), k) for k in NOT_REMEMBERED)]


def read_remembered(cfg) -> list[str]:
    path = paths_of(cfg).overrides
    if not path.exists():
        return []
    saved = OmegaConf.to_container(OmegaConf.load(path))
    if not isinstance(saved, list) or not all(isinstance(o, str) for o in saved):
        raise UserError(f"{path} is not a list of overrides (key=value lines): fix it or delete it")
    return saved


def remember(cfg, overrides: list[str]) -> None:
    """Write the run's overrides.yaml: the part of `overrides` (remembered and given, merged) that
    describes what the run makes."""
    kept = remembered_part(overrides)
    header = (
        "# The overrides this run was made with: every script run on it composes its config from these,\n"
        "# then from its own command line (which wins) and adds that command line's here. Delete a line to\n"
        "# go back to the default.\n"
    )
    save_text(paths_of(cfg).overrides, header + (OmegaConf.to_yaml(kept) if kept else "[]\n"))


def local_run_name(cfg, given: list[str]) -> None:
    """A run of local meshes gets a name of its own, `<name>-local-<folder>`, unless given one on the
    command line: it must not replace the objects of the procedural run of the same preset."""
    if cfg.data.source.value != "local" or any(_key(o) == "name" for o in given) or not cfg.data.local_dir:
        return
    folder = str(cfg.data.local_dir).rstrip("/").rsplit("/", 1)[-1] or "root"
    cfg.name = f"{cfg.name}-local-{folder}"


def with_remembered(cfg, given: list[str], compose) -> tuple:
    """(config, overrides): cfg composed again (compose(overrides) -> config) from the run's remembered
    overrides under the command line's `given`, with a log line listing the ones it took (cfg itself when
    none apply), and those overrides, merged."""
    local_run_name(cfg, given)
    remembered = read_remembered(cfg)
    overrides = merge(remembered, given)
    taken = overrides[: len(overrides) - len(given)]
    if not taken:
        return cfg, overrides
    try:
        out = compose(overrides)
    except HydraException as e:  # a remembered override the schema no longer knows
        raise UserError(f"{paths_of(cfg).overrides}: {str(e).splitlines()[0]} (edit or delete that file)") from e
    out.name = cfg.name  # the local name, when it was made
    _say(f"run {cfg.name}: with the overrides it was made with: {' '.join(taken)} (the command line's win)")
    return out, overrides


def _say(line: str) -> None:
    """One line on stderr, in the stage logs' format (the stage loggers only exist once a stage starts)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    log.info(line)


# ---------------------------------------------------------------- upstream made with other settings
def made_config(path):
    """A stage's saved config.yaml over the schema's defaults: a setting added since it was saved reads as
    its default, which keeps the behaviour from before the setting existed. Where the saved config holds a
    setting the schema no longer has, it is read as saved."""
    saved = OmegaConf.load(path)
    try:
        return OmegaConf.merge(OmegaConf.structured(Config), saved)
    except OmegaConfBaseException:
        return saved


def _expected(cfg, stage: str, artifact: str | None) -> dict:
    """The settings parts a record of `stage` made under cfg holds (what status compares too)."""
    config = object_config(cfg, stage) if artifact is None else shared_config(cfg, stage, artifact)
    return dict(config=fingerprint(config), numerics=stage_numerics(cfg, stage))


def _differs(entry: dict, expected: dict) -> bool:
    parts = entry.get("parts") or {}
    return entry.get("status") == "done" and any(parts.get(k) != v for k, v in expected.items())


def _stale_record(cfg, stage: str) -> tuple[dict, str | None] | None:
    """A done record of `stage` (an object's, or a shared artifact's and its name) made with other settings
    than cfg's, over the objects this config reads there; None when every one matches."""
    p = paths_of(cfg)
    m = Manifest(p.manifest(stage), p.root)
    if not m.exists():
        return None
    listed = load_objects(p.objects, fetched_only=True) if p.objects.exists() else []
    if STAGES[stage].evaluated_only:
        listed = [o for o in listed if o.split in cfg.eval_splits]
    expected = _expected(cfg, stage, None)
    for o in listed:
        e = m.get(o.id)
        if e is not None and _differs(e, expected):
            return e, None
    shared = m.dir / "shared"
    for f in sorted(shared.glob("*.json")) if shared.is_dir() else []:
        e = m.get(f.stem, shared=True)
        if e is not None and _differs(e, _expected(cfg, stage, f.stem)):
            return e, f.stem
    return None


def _flat(container, prefix: str = "") -> dict:
    if isinstance(container, dict):
        out = {}
        for k, v in container.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: container}


def _value(v) -> str:
    """A config value as a command line gives it."""
    if isinstance(v, list):
        return "[" + ",".join(map(_value, v)) + "]"
    if v is None:
        return "null"
    return str(v).lower() if isinstance(v, bool) else str(v)


def differences(cfg, made_with, stage: str, artifact: str | None) -> list[tuple[str, str, str]]:
    """(key, value made with, value of this config) for each config value that, changed alone, changes
    what a record of `stage` compares against (so presets' and groups' values are named by their own keys)."""
    plain = lambda c: OmegaConf.to_container(c, resolve=True, enum_to_str=True)  # noqa: E731
    now, then = _flat(plain(cfg)), _flat(plain(made_with))
    expected = _expected(OmegaConf.create(plain(cfg)), stage, artifact)
    out = []
    for key in sorted(set(now) & set(then)):
        if now[key] == then[key]:
            continue
        trial = OmegaConf.create(plain(cfg))
        OmegaConf.update(trial, key, then[key], merge=False)
        if _expected(trial, stage, artifact) != expected:
            out.append((key, _value(then[key]), _value(now[key])))
    return out


def check_upstream(cfg, stage: str) -> None:
    """Raise UpstreamStale if a stage before `stage` holds records made with other settings than cfg's
    (01's records are keyed on each object's source, not on the config: as status, it is not compared)."""
    p = paths_of(cfg)
    for up in STAGE_DIRS[1 : STAGE_DIRS.index(stage)]:
        found = _stale_record(cfg, up)
        if found is None:
            continue
        entry, artifact = found
        diff = []
        if p.run_config(up).exists():  # the config of its last run: the values, when they made this record
            made_with = made_config(p.run_config(up))
            if not _differs(entry, _expected(made_with, up, artifact)):
                diff = differences(cfg, made_with, up, artifact)
        said = "; ".join(f"{k}: made with {a}, this config says {b}" for k, a, b in diff)
        now = " ".join(f"{k}={b}" for k, _, b in diff)
        then = " ".join(f"{k}={a}" for k, a, _ in diff)
        raise UpstreamStale(
            f"{up}{f' ({artifact})' if artifact else ''} was made with other settings than this config's: "
            f"{said or 'its config or device differs'}. Rerun `python {SCRIPTS[up]}.py{' ' + now if now else ''}` "
            f"first{f', or run this stage with {then}' if then else ''}"
        )


# ---------------------------------------------------------------- readout_from
READOUT_SIZES = (
    "mapper.route",
    "render.elevations_deg",
    "render.per_ring",
    "image_siren.hidden",
    "image_siren.sine_layers",
    "image_siren.w0",
    "hypernet.hidden",
    "hypernet.heads",
    "shape_siren.hidden",
    "shape_siren.sine_layers",
    "shape_siren.w0",
    "weight_ae.latent",
    "weight_ae.hidden",
    "weight_ae.heads",
    "mapper.sketch_dim",
    "mapper.hidden",
    "mapper.heads",
    "mapper.probe.feature_resolution",
    "decoder.latent",
    "decoder.hidden",
    "decoder.layers",
    "decoder.frequencies",
    "decoder.probe_resolution",
    "decoder.readout_hidden",
    "decoder.learn_probes",
)
"""The settings the parts a readout_from run lends depend on (the cameras the hypernetworks are read at,
every network's sizes, the route): a run must read its objects with that run's values of them."""


def _plain(value):
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else getattr(value, "value", value)


def check_readout_from(cfg) -> None:
    """Raise UserError (one line) when cfg.readout_from names no run with this route's readout, or a run
    whose readout was made with another value of a READOUT_SIZES setting than cfg's."""
    if not cfg.readout_from:
        return
    theirs = readout_paths(cfg)
    if theirs.root == paths_of(cfg).root:
        raise UserError(f"readout_from={cfg.readout_from} names this run itself: give another run's name")
    made = theirs.run_config("70_mapper")
    if not made.exists():
        raise UserError(
            f"readout_from={cfg.readout_from}: {theirs.stage('70_mapper')} holds no readout: run `python "
            f"run_pipeline.py name={cfg.readout_from} mapper.route={cfg.mapper.route.value}` (its overrides) first"
        )
    then = made_config(made)
    for key in READOUT_SIZES:
        a, b = _plain(OmegaConf.select(then, key)), _plain(OmegaConf.select(cfg, key))
        if a != b:
            raise UserError(
                f"readout_from={cfg.readout_from}: {key} must be that run's {_value(a)}, this config says "
                f"{_value(b)} (the parts it lends are made for its value)"
            )
