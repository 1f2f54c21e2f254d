"""What every stage shares: atomic writes, seeds, the device, logging, and the manifest that says which
objects are done and from what, so a rerun redoes exactly what changed."""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from tqdm import tqdm

from .paths import SCRIPTS, Paths, paths_of

log = logging.getLogger("hypershape")


class MissingUpstream(RuntimeError):
    """A stage was run before the stage it reads from."""


class TrainingDiverged(RuntimeError):
    """A loss or a weight became NaN or infinite."""


# ---------------------------------------------------------------- atomic writes
def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """Write through a temporary file in the same folder, then rename: a killed run leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_json(path: Path, obj: Any) -> Path:
    return atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=1, default=_json_default)))


def save_torch(path: Path, obj: Any) -> Path:
    return atomic_write(path, lambda p: torch.save(obj, p))


def save_npz(path: Path, **arrays) -> Path:
    def write(p: Path):
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays)
    return atomic_write(path, write)


def save_mesh(path: Path, mesh) -> Path:
    return atomic_write(path, lambda p: mesh.export(p, file_type=Path(path).suffix[1:]))


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def load_torch(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=False)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


# ---------------------------------------------------------------- seeds, device
def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (config sections, upstream keys)."""
    text = json.dumps(parts, sort_keys=True, default=_json_default)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def seed_of(seed: int, *parts: Any) -> int:
    """A seed for one named thing (an object, an anchor): independent of the order things run in."""
    return int(fingerprint(seed, *parts)[:8], 16)


def generator(seed: int, *parts: Any) -> torch.Generator:
    return torch.Generator().manual_seed(seed_of(seed, *parts))


def rng(seed: int, *parts: Any) -> np.random.Generator:
    return np.random.default_rng(seed_of(seed, *parts))


AUTOCAST: dict = {"dtype": None}  # set by device_of; read by training.train


def device_of(cfg) -> torch.device:
    """The torch device of cfg.device, with its global settings applied (threads, TF32, autocast dtype,
    torch.compile of the batched SIREN forward)."""
    from .nets import siren

    d = cfg.device
    if d.threads:
        torch.set_num_threads(d.threads)
    siren.use_compiled(d.compile)
    AUTOCAST["dtype"] = None
    if d.kind == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device=cuda was asked for but torch sees no CUDA device; use device=cpu")
        torch.backends.cuda.matmul.allow_tf32 = d.tf32
        torch.backends.cudnn.allow_tf32 = d.tf32
        if d.autocast:
            AUTOCAST["dtype"] = {"bf16": torch.bfloat16, "fp16": torch.float16}[d.autocast]
        return torch.device("cuda", d.index)
    if d.kind != "cpu":
        raise ValueError(f"device.kind must be cpu or cuda, got {d.kind!r}")
    return torch.device("cpu")


def autocast():
    """Mixed precision where device_of was told to use it (CUDA only); a no-op context otherwise."""
    if AUTOCAST["dtype"] is None:
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=AUTOCAST["dtype"])


# ---------------------------------------------------------------- manifest
class Manifest:
    """Per stage: for each object (and each shared artifact such as an anchor) its status, the key of
    what produced it, the reason if it failed, and its figures. Saved atomically after every change."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = load_json(self.path) if self.path.exists() else {}

    def exists(self) -> bool:
        return self.path.exists()

    def get(self, obj_id: str) -> dict | None:
        return self.entries.get(obj_id)

    def is_done(self, obj_id: str) -> bool:
        e = self.entries.get(obj_id)
        return bool(e) and e["status"] == "done"

    def key(self, obj_id: str) -> str | None:
        e = self.entries.get(obj_id)
        return e["key"] if e else None

    def is_current(self, obj_id: str, key: str, files: Iterable[Path] = ()) -> bool:
        e = self.entries.get(obj_id)
        return bool(e) and e["status"] == "done" and e["key"] == key and all(Path(f).exists() for f in files)

    def done(self, obj_id: str, key: str, **info) -> None:
        self.entries[obj_id] = {"status": "done", "key": key, **info}
        self.save()

    def failed(self, obj_id: str, key: str, reason: str) -> None:
        self.entries[obj_id] = {"status": "failed", "key": key, "reason": reason}
        self.save()

    def save(self) -> None:
        save_json(self.path, self.entries)


# ---------------------------------------------------------------- stage
class Stage:
    """One run of one stage: its folder, log file, manifest and the objects it works on.

    `run_objects` is the loop every per-object stage uses: it skips objects whose outputs were made from
    the same key (config + upstream keys), redoes the others, records failures with their reason and goes
    on, and `finish` says at the end what was done, skipped and failed."""

    def __init__(self, cfg, name: str, upstream: tuple[str, ...] = ()):
        self.cfg = cfg
        self.name = name
        self.paths: Paths = paths_of(cfg)
        self.dir = self.paths.stage(name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = _stage_logger(name, self.paths.log(name))
        self.upstream: dict[str, Manifest] = {}
        for up in upstream:
            m = Manifest(self.paths.manifest(up))
            if not m.exists():
                raise MissingUpstream(f"{name} reads the output of {up}, which is not in {self.paths.stage(up)}: "
                                      f"run `python {SCRIPTS[up]}.py` (same overrides) first")
            self.upstream[up] = m
        self.manifest = Manifest(self.paths.manifest(name))
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self.failures: dict[str, str] = {}
        self.started = time.time()
        self.log.info("%s: run %s in %s", name, cfg.name, self.dir)

    # objects -----------------------------------------------------------------
    def objects(self, split: str | None = None) -> list[dict]:
        """Objects listed by 01_download that it fetched (optionally one split)."""
        objs = [o for o in load_json(self.paths.objects) if o["status"] == "done"]
        return [o for o in objs if split is None or o["split"] == split]

    def upstream_keys(self, obj_id: str) -> dict[str, str] | str:
        """The upstream keys of an object, or the reason it cannot be made (an upstream stage failed)."""
        keys = {}
        for up, m in self.upstream.items():
            e = m.get(obj_id)
            if e is None:
                return f"{up} has no output for it: run {SCRIPTS[up]}.py"
            if e["status"] != "done":
                return f"{up} failed: {e.get('reason', '?')}"
            keys[up] = e["key"]
        return keys

    def shared(self, artifact: str, key: str, path: Path, make: Callable[[], dict]) -> dict:
        """Make a shared artifact (an anchor, a trained autoencoder) unless it is current."""
        if self.manifest.is_current(artifact, key, [path]):
            self.log.info("%s is up to date", artifact)
            return self.manifest.get(artifact)
        if self.manifest.get(artifact):
            self.log.info("%s: config or inputs changed since it was made, remaking it", artifact)
        info = make()
        self.manifest.done(artifact, key, **info)
        return self.manifest.get(artifact)

    def run_objects(self, objects: list[dict], key_of: Callable[[dict, dict], str],
                    outputs: Callable[[dict], list[Path]], work: Callable[[list[dict]], dict],
                    batch: int = 1, desc: str | None = None) -> None:
        """Run `work` on every object that is not up to date, `batch` objects at a time.

        key_of(obj, upstream_keys) -> key; outputs(obj) -> files that must exist for it to count as done;
        work(objs) -> {id: info dict, or an Exception for an object that failed}."""
        todo = []
        for o in objects:
            ups = self.upstream_keys(o["id"])
            if isinstance(ups, str):
                self.fail(o["id"], "", f"skipped, {ups}")
                continue
            key = key_of(o, ups)
            if self.manifest.is_current(o["id"], key, outputs(o)):
                self.counts["skipped"] += 1
                continue
            if self.manifest.get(o["id"]):
                self.log.info("%s: config or upstream changed since it was made, redoing it", o["id"])
            todo.append((o, key))
        if self.counts["skipped"]:
            self.log.info("%d objects up to date, %d to do", self.counts["skipped"], len(todo))
        bar = tqdm(total=len(todo), desc=desc or self.name, unit="obj", dynamic_ncols=True)
        for i in range(0, len(todo), batch):
            chunk = todo[i:i + batch]
            try:
                results = work([o for o, _ in chunk])
            except Exception as e:  # one bad batch must not stop the others
                self.log.exception("batch %s failed", [o["id"] for o, _ in chunk])
                results = {o["id"]: e for o, _ in chunk}
            for o, key in chunk:
                r = results.get(o["id"], RuntimeError("no result"))
                if isinstance(r, Exception):
                    self.fail(o["id"], key, f"{type(r).__name__}: {r}")
                else:
                    self.manifest.done(o["id"], key, **r)
                    self.counts["done"] += 1
            bar.update(len(chunk))
        bar.close()

    def fail(self, obj_id: str, key: str, reason: str) -> None:
        self.manifest.failed(obj_id, key, reason)
        self.counts["failed"] += 1
        self.failures[obj_id] = reason
        self.log.warning("%s failed: %s", obj_id, reason)

    def finish(self) -> dict:
        c = self.counts
        self.log.info("%s finished in %.1f s: %d done, %d up to date, %d failed", self.name,
                      time.time() - self.started, c["done"], c["skipped"], c["failed"])
        for obj_id, reason in self.failures.items():
            self.log.warning("  FAILED %s: %s", obj_id, reason)
        return dict(c, failures=dict(self.failures))


def _stage_logger(name: str, path: Path) -> logging.Logger:
    """Log to the console and to the stage's log.txt (appending, so reruns keep their history)."""
    logger = logging.getLogger(f"hypershape.{name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    path.parent.mkdir(parents=True, exist_ok=True)
    for h in (logging.StreamHandler(), logging.FileHandler(path)):
        h.setFormatter(fmt)
        logger.addHandler(h)
    return logger
