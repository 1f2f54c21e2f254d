"""What `--help` of a script prints: what it does (its stage module's docstring, or the script's own) and
its knobs, each config field it reads with its current value and the documentation config.py gives it.
Hydra's help template (configs/config.yaml, hydra.help) calls `${hypershape_help:${hydra.help.app_name}}`;
the config groups and Hydra's own flags follow from the template."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import sys
import textwrap
import typing
from functools import lru_cache
from pathlib import Path

from omegaconf import OmegaConf

from . import config
from .stage_specs import STAGES

# Shown by every script: where the run is, its seed, the device, shards, strictness.
COMMON_KNOBS = ("preset", "name", "data_dir", "seed", "device.kind", "shard.count", "shard.index", "strict")
SCRIPT_KNOBS = {"experiment": ("experiment",), "run_pipeline": ("mapper.route",)}


@lru_cache(maxsize=1)
def field_docs() -> dict[str, str]:
    """{dotted config key: its docstring} of every field of the schema, read from config.py's source
    (Python keeps no docstring of a dataclass field at run time)."""
    classes = {}
    for node in ast.parse(Path(config.__file__).read_text()).body:
        if isinstance(node, ast.ClassDef):
            docs, body = {}, node.body
            for a, b in zip(body, body[1:]):
                if isinstance(a, ast.AnnAssign) and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant):
                    docs[a.target.id] = str(b.value.value)
            classes[node.name] = docs
    out = {}

    def walk(cls, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = prefix + f.name
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name], key + ".")
            else:  # a field a subclass inherits (SirenLayers') is documented on its base
                base = next((c for c in cls.__mro__ if f.name in classes.get(c.__name__, {})), cls)
                out[key] = classes.get(base.__name__, {}).get(f.name, "")

    walk(config.Config, "")
    return out


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text())) or ""


def _knob(root, key: str, doc: str) -> str:
    value = OmegaConf.select(root, key, throw_on_missing=False)
    value = getattr(value, "value", value)  # an enum by its name
    value = str(value).lower() if isinstance(value, bool) or value is None else value  # as overrides say it
    text = textwrap.fill(" ".join(doc.split()), 100, initial_indent="      ", subsequent_indent="      ")
    return f"  {key} = {value}\n{text}" if doc else f"  {key} = {value}"


def script_help(script: str, _root_) -> str:
    """The help text of `script` (hydra.job.name: the file name without .py) on the composed config."""
    stage = next((s for s in STAGES.values() if s.script == script), None)
    if stage is not None:
        spec = importlib.util.find_spec(f"hypershape.stages.{stage.module}")
        about, sections = _docstring(Path(spec.origin)), stage.knobs
    else:
        main = sys.modules.get("__main__")
        about = (main.__doc__ or "").strip() if main is not None else ""
        sections = SCRIPT_KNOBS.get(script, ())
    docs = field_docs()
    keys = [k for s in sections for k in docs if k == s or k.startswith(s + ".")]
    lines = [about, ""]
    if "Usage:" not in about:
        lines += [f"Usage: python {script}.py [preset=tiny|default|cpu100|cpu400|n100] [key=value ...]", ""]
    if keys:
        lines += ["== What it computes from (key = value now, then what it does) ==", ""]
        lines += [_knob(_root_, k, docs[k]) for k in keys] + [""]
    lines += [
        "== Where the run is and how it runs ==",
        "",
        "Later scripts on the same run (name, data_dir) compose their config from the overrides it was made",
        "with, kept in data_dir/name/overrides.yaml; their own command line wins.",
        "",
    ]
    lines += [_knob(_root_, k, docs[k]) for k in COMMON_KNOBS]
    return "\n".join(lines).replace("$", "$$")  # the template goes through string.Template next


OmegaConf.register_new_resolver("hypershape_help", script_help, replace=True)
