"""What made an output: the config a stage's per-object work reads, the numerics of the device, and the
code it runs (its module and everything it imports from the package; the config schema's fields enter as
values, not as code). Keys are built from these, so changing any of them makes the output stale; `status`
reads them without importing torch."""

from __future__ import annotations

import ast
import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

from .stage_specs import STAGES

PACKAGE_DIR = Path(__file__).resolve().parent

# Packages that import their modules by name (routes.get), which no import statement shows.
REGISTRIES = (f"{PACKAGE_DIR.name}.routes",)

# The config schema's dataclasses are not code of a stage: the values a stage reads enter its key through
# object_config (defaults included), so a field added to one section leaves the other stages current.
SCHEMA_MODULES = (f"{PACKAGE_DIR.name}.config",)


def object_config(cfg, stage: str) -> dict:
    """The part of cfg that one object's output of `stage` depends on (stage_specs.py)."""
    return STAGES[stage].object_config(cfg)


def shared_config(cfg, stage: str, artifact: str) -> dict:
    """The part of cfg a shared artifact of `stage` depends on (its inputs enter its key separately)."""
    spec = STAGES[stage]
    return spec.object_config(cfg) if spec.shared_config is None else spec.shared_config(cfg, artifact)


def stage_numerics(cfg, stage: str) -> dict | None:
    """The numerics part of a stage's key: the device's, for a stage whose numbers depend on it."""
    return numerics(cfg) if STAGES[stage].device_dependent else None


def numerics(cfg) -> dict:
    """Device settings that change a trained network's numbers (threads and the index do not)."""
    d = cfg.device
    out = dict(kind=d.kind, compile=d.compile, autocast=d.autocast)
    if d.kind == "cuda":
        out["tf32"] = d.tf32
    return out


# ---------------------------------------------------------------- code
def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _imports(name: str, path: Path) -> set[str]:
    """Package modules that `name` (at `path`) imports, at any depth of its code (lazy imports too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from . import x` may name a module
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.split(".")[0] == PACKAGE_DIR.name}


def _is_dataclass(node: ast.stmt) -> bool:
    return isinstance(node, ast.ClassDef) and any(
        isinstance(d, ast.Name) and d.id == "dataclass" for d in node.decorator_list
    )


def code_source(name: str, path: Path) -> bytes:
    """What of module `name` (at `path`) is code: its source, less the dataclasses of a schema module and its
    blank lines (a section added brings the blank lines that part it from the next)."""
    source = path.read_bytes()
    if name not in SCHEMA_MODULES:
        return source
    schema = [n for n in ast.parse(source).body if _is_dataclass(n)]
    drop = {i for n in schema for i in range(n.decorator_list[0].lineno, n.end_lineno + 1)}
    lines = source.splitlines(keepends=True)
    return b"".join(line for i, line in enumerate(lines, 1) if i not in drop and line.strip())


@lru_cache(maxsize=None)
def code_version(module: str) -> str:
    """A hash of the source of `module` and of every package module it imports, transitively (with the
    packages' __init__ files that importing them runs)."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        if name in REGISTRIES:  # it imports its modules by name: all of them are code of what imports it
            todo += [f"{name}.{f.stem}" for f in path.parent.glob("*.py") if f.stem != "__init__"]
        parents = [".".join(name.split(".")[:i]) for i in range(1, len(name.split(".")))]
        todo += parents + sorted(_imports(name, path))
    h = hashlib.sha1()
    for name in sorted(seen):
        h.update(name.encode() + b"\0" + code_source(name, seen[name]) + b"\0")
    return h.hexdigest()[:16]


def stage_code(stage: str) -> str:
    return code_version(f"{PACKAGE_DIR.name}.stages.{STAGES[stage].module}")


@lru_cache(maxsize=1)
def git_version() -> dict:
    """The commit of the checkout the package runs from, and whether its code differs from it."""
    root = PACKAGE_DIR.parents[1]
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, timeout=10)  # noqa: E731
        commit = run("rev-parse", "HEAD")
        if commit.returncode != 0:
            return dict(commit=None)
        dirty = run("status", "--porcelain", "--", "src", "configs")
        return dict(commit=commit.stdout.strip(), dirty=bool(dirty.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        return dict(commit=None)
