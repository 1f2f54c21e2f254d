"""What every stage shares: seeds, the device, logging, runs and their branches, and the Stage loop that
reads and writes records (records.py), so a rerun redoes exactly what changed and shards share one run."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import shutil
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from tqdm import tqdm

from .errors import UserError
from .nets.checkpoint import CheckpointMismatch
from .objects import RunObject, Subset, load_objects
from .paths import SCRIPTS, STAGE_DIRS, Paths, paths_of, readout_paths
from .provenance import git_version, object_config, shared_config, stage_code, stage_numerics
from .records import (  # noqa: F401
    Claim,
    Manifest,
    atomic_write,
    fingerprint,
    load_json,
    remove_temporaries,
    save_json,
    save_text,
    shard_of,
    stale_reasons,
    temporary,
)
from .stage_specs import STAGES, made_by

# softplus(beta=100) (the shared decoder, the view field) underflows into subnormal floats, which x86 CPUs
# compute many times slower (benchmarks/denormals.py). Flushed to zero on import: the flag is each thread's
# own and torch's worker threads take it from the thread that starts them, so it must precede any torch op.
torch.set_flush_denormal(True)

log = logging.getLogger("hypershape")


class MissingUpstream(UserError, RuntimeError):
    """A stage was run before the stage it reads from."""


def failure_message(e: Exception) -> str:
    """What a user reads of a failure: its message, and for a checkpoint of another architecture the script
    that remakes it (nets/ names the config section of the network; the stage table knows its stage)."""
    if isinstance(e, CheckpointMismatch):
        return f"{e}: rerun {made_by(e.section).script}.py"
    return str(e)


class TrainingDiverged(RuntimeError):
    """A loss or a weight became NaN or infinite."""


class SharedArtifactBusy(UserError, RuntimeError):
    """Another job is making a shared artifact this job needs, and did not finish within shard.wait_s."""


def _storable(obj: Any) -> Any:
    """obj as what `torch.load(weights_only=True)` accepts: tensors, dicts, lists, tuples, str, int, float,
    bool and None. Enums become their value, OmegaConf containers and dataclasses (a SirenSpec) plain dicts,
    numpy scalars python numbers and numpy arrays tensors, paths strings; any other type is an error here
    rather than a checkpoint nobody can load safely. A tensor that is a view into a larger storage is copied
    out: torch.save writes a view's whole storage (one object's slice of a batch would carry the batch)."""
    if isinstance(obj, torch.Tensor):
        return obj.clone() if obj.untyped_storage().nbytes() > obj.numel() * obj.element_size() else obj
    if isinstance(obj, np.generic):  # before the python numbers: np.float64 is a float subclass
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)) and not isinstance(obj, Enum):
        return obj
    if isinstance(obj, Enum):
        return _storable(obj.value)
    if isinstance(obj, (DictConfig, ListConfig)):
        return _storable(OmegaConf.to_container(obj, resolve=True, enum_to_str=True))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _storable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        out = type(obj)() if type(obj) in (dict, OrderedDict) else {}
        out.update((_storable(k), _storable(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # a state_dict's module versions
            out._metadata = _storable(obj._metadata)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(map(_storable, obj)) if type(obj) in (list, tuple) else list(map(_storable, obj))
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"save_torch cannot store a {type(obj).__name__} so that weights_only loading accepts it")


def save_torch(path: Path, obj: Any) -> Path:
    """Save obj made storable (see _storable). Serialised in memory, not to the temporary file: torch's
    archive names its records after the file it is written to, and the temporary's name is random."""
    buffer = io.BytesIO()
    torch.save(_storable(obj), buffer)
    return atomic_write(path, lambda p: p.write_bytes(buffer.getvalue()))


def save_npz(path: Path, **arrays) -> Path:
    def write(p: Path):
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays)

    return atomic_write(path, write)


def save_mesh(path: Path, mesh) -> Path:
    return atomic_write(path, lambda p: mesh.export(p, file_type=Path(path).suffix[1:]))


def load_torch(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


# ---------------------------------------------------------------- seeds, device
def seed_of(seed: int, *parts: Any) -> int:
    """A seed for one named thing (an object, an anchor): independent of the order things run in."""
    return int(fingerprint(seed, *parts)[:8], 16)


def generator(seed: int, *parts: Any) -> torch.Generator:
    return torch.Generator().manual_seed(seed_of(seed, *parts))


def rng(seed: int, *parts: Any) -> np.random.Generator:
    return np.random.default_rng(seed_of(seed, *parts))


@dataclass(frozen=True)
class Numerics:
    """How a stage computes on its device: the device, the autocast dtype of training steps (None: full
    precision) and whether SIREN forwards are torch.compile'd. Passed to what trains and evaluates, so no
    module holds device settings of its own."""

    device: torch.device
    autocast: torch.dtype | None = None
    compile: bool = False

    def autocast_context(self):
        """Mixed precision where asked for (CUDA only); a no-op context otherwise."""
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast)


def numerics_of(cfg) -> Numerics:
    """The Numerics of cfg.device, with torch's process-wide settings applied (threads, TF32)."""
    d = cfg.device
    if d.threads:
        torch.set_num_threads(d.threads)
    if d.kind == "cuda":
        if not torch.cuda.is_available():
            raise UserError("device=cuda was asked for but torch sees no CUDA device; use device=cpu")
        torch.backends.cuda.matmul.allow_tf32 = d.tf32
        torch.backends.cudnn.allow_tf32 = d.tf32
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[d.autocast] if d.autocast else None
        return Numerics(torch.device("cuda", d.index), dtype, d.compile)
    if d.kind != "cpu":
        raise UserError(f"device.kind must be cpu or cuda, got {d.kind!r}")
    return Numerics(torch.device("cpu"), None, d.compile)


def device_of(cfg) -> torch.device:
    """The torch device of cfg.device (numerics_of, for callers that need the device alone)."""
    return numerics_of(cfg).device


# ---------------------------------------------------------------- runs
def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed
        shutil.copy2(src, dst)


def branch_run(paths: Paths, base: str) -> None:
    """Start the run at `paths.root` from the finished stages of run `base` (same data_dir): hard links
    (copies across filesystems) of its stage folders. Every write replaces a file by rename, so neither run
    can change the other's files. Built in a temporary folder and renamed into place: of jobs branching the
    same run at once, one wins and the others use its result."""
    root = paths.root
    if root.exists():
        return
    src = root.parent / base
    if not src.is_dir():
        raise MissingUpstream(f"branch_from={base}: there is no run {src} to branch from")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(root.parent, f".{root.name}.", directory=True)
    try:
        for stage in STAGE_DIRS:
            if (src / stage).is_dir():
                shutil.copytree(
                    src / stage,
                    tmp / stage,
                    copy_function=_link_or_copy,
                    ignore=shutil.ignore_patterns("claims", "log.txt", ".*"),
                )
        (tmp / paths.branched_from.name).write_text(json.dumps(dict(run=base, at=time.time())))
        with contextlib.suppress(OSError):  # another job branched it first
            os.rename(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- stage
class Stage:
    """One run of one stage (or of one shard of it): its folder, log, manifest and the objects it works on.

    `run_objects` is the loop every per-object stage uses: it takes this shard's objects, skips those whose
    outputs were made from the same key (config, code, numerics, upstream and shared keys), claims and
    redoes the others, records failures with their reason and goes on; `shared` makes an artifact (an
    anchor, the autoencoder) exactly once across all jobs; `finish` says what was done, skipped and
    failed, by this job and by all shards together."""

    def __init__(self, cfg, name: str):
        self.cfg = cfg
        self.name = name
        self.paths: Paths = paths_of(cfg)
        if cfg.branch_from:
            branch_run(self.paths, cfg.branch_from)
        self.readout: Paths | None = readout_paths(cfg) if cfg.readout_from else None
        """The readout_from run, whose shared parts take_shared links here."""
        self.dir = self.paths.stage(name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = _stage_logger(name, self.paths.log(name))
        self.upstream: dict[str, Manifest] = {}
        for up in STAGES[name].upstream:
            m = Manifest(self.paths.manifest(up), self.paths.root)
            if not m.exists():
                raise MissingUpstream(
                    f"{name} reads the output of {up}, which is not in {self.paths.stage(up)}: "
                    f"run `python {SCRIPTS[up]}.py` (same overrides) first"
                )
            self.upstream[up] = m
        self.manifest = Manifest(self.paths.manifest(name), self.paths.root)
        self.shard = cfg.shard
        if not 0 <= self.shard.index < self.shard.count:
            raise UserError(f"shard.index must be in [0, shard.count={self.shard.count}), got {self.shard.index}")
        self.code = stage_code(name)
        self.numerics = stage_numerics(cfg, name)
        self.counts = {"done": 0, "skipped": 0, "failed": 0, "busy": 0}
        self.failures: dict[str, str] = {}
        self.started = time.time()
        save_text(self.paths.run_config(name), OmegaConf.to_yaml(cfg, resolve=True))
        save_json(self.paths.code_version(name), dict(git_version(), stage_code=self.code))
        part = f" shard {self.shard.index + 1}/{self.shard.count}" if self.shard.count > 1 else ""
        self.log.info("%s%s: run %s in %s", name, part, cfg.name, self.dir)

    # objects -----------------------------------------------------------------
    def objects(self, split: Subset | None = None) -> list[RunObject]:
        """Objects listed by 01_download that it fetched (optionally one split), of every shard."""
        return [o for o in load_objects(self.paths.objects, fetched_only=True) if split is None or o.split == split]

    def mine(self, objects: list[RunObject]) -> list[RunObject]:
        """The objects of this job's shard."""
        return [o for o in objects if shard_of(o.id, self.shard.count) == self.shard.index]

    def upstream_failure(self, obj_id: str) -> str | None:
        """Why an object cannot be made (an upstream stage has no output for it, or failed), or None."""
        for up, m in self.upstream.items():
            e = m.get(obj_id)
            if e is None:
                return f"{up} has no output for it: run {SCRIPTS[up]}.py"
            if e["status"] != "done":
                return f"{up} failed: {e.get('reason', '?')}"
        return None

    def upstream_keys(self, obj_id: str) -> dict[str, str]:
        """The key of every upstream stage's record of an object that has no upstream_failure."""
        return {up: m.get(obj_id)["key"] for up, m in self.upstream.items()}

    def unrecorded(self, upstream: str, objects: list[RunObject], shared: tuple[str, ...] = ()) -> list[str]:
        """Objects (and shared artifacts) that `upstream` has no record of yet, done or failed."""
        m = self.upstream[upstream]
        return [o.id for o in objects if m.get(o.id) is None] + [
            name for name in shared if not m.is_done(name, shared=True)
        ]

    def wait_for(self, what: str, upstream: str, objects: list[RunObject] = (), shared: tuple[str, ...] = ()) -> None:
        """Wait until `upstream` has a record, done or failed, of each of `objects` and of the shared
        artifacts named in `shared`: another job may still be making them. With shards, the others get up
        to shard.wait_s to start; alone, this job waits only while a live job (a second pipeline on the same
        run) holds a claim on one of them. Otherwise stop with a message naming the script to run."""
        waited, said = 0.0, False
        while True:
            left = self.unrecorded(upstream, objects, shared)
            if not left:
                return
            claims = self.paths.claims(upstream)
            made = [
                n
                for n in left
                if Claim.is_live(claims / ("shared" if n in shared else "objects") / n, self.shard.stale_after_s)
            ]
            # a job between two objects holds no claim for a moment, but it recorded one just before
            nobody = not made and self.unrecorded(upstream, objects, shared) == left
            if (self.shard.count == 1 and nobody) or waited >= self.shard.wait_s:
                raise MissingUpstream(
                    f"{self.name} needs {what}, which {len(left)} lack (e.g. {left[0]}): "
                    f"run `python {SCRIPTS[upstream]}.py` (same overrides, every shard) first"
                )
            if not said:
                self.log.info("waiting for %s from other jobs (%d missing, e.g. %s)", what, len(left), left[0])
                said = True
            time.sleep(self.shard.poll_s)
            waited += self.shard.poll_s

    def key(self, config: dict | None = None, **deps) -> tuple[str, dict]:
        """The key of an output made from `config` (default: this stage's per-object config) and `deps`
        (upstream keys, shared keys, inputs), with this stage's code and numerics: (key, its parts)."""
        config = object_config(self.cfg, self.name) if config is None else config
        parts = dict(config=fingerprint(config), code=self.code, numerics=self.numerics, **deps)
        return fingerprint(parts), parts

    def claim(self, name: str, shared: bool = False) -> Claim | None:
        sub = "shared" if shared else "objects"
        return Claim.take(self.paths.claims(self.name) / sub / name, self.shard.stale_after_s)

    def shared(
        self,
        artifact: str,
        path: Path | list[Path],
        make: Callable[[], dict],
        inputs: Any = None,
        config: dict | None = None,
    ) -> dict:
        """Make a shared artifact (an anchor, the autoencoder: the file or files at `path`) from `inputs`
        unless it is current; of all jobs that need it, one makes it and the others wait for it (up to
        shard.wait_s). Returns its record (its key under "key")."""
        files = path if isinstance(path, list) else [path]
        config = shared_config(self.cfg, self.name, artifact) if config is None else config
        key, parts = self.key(config, inputs=fingerprint(inputs))
        waited, said = 0.0, False
        while True:
            if self.manifest.is_current(artifact, key, shared=True):
                self.log.info("%s is up to date", artifact)
                return self.manifest.get(artifact, shared=True)
            claim = self.claim(artifact, shared=True)
            if claim is not None:
                try:
                    if self.manifest.is_current(artifact, key, shared=True):
                        continue
                    remove_temporaries(files)
                    old = self.manifest.get(artifact, shared=True)
                    if old:
                        self.log.info(
                            "%s: %s changed since it was made, remaking it",
                            artifact,
                            ", ".join(stale_reasons(old, parts)) or "its output",
                        )
                    began = time.perf_counter()
                    info = make()
                    info = dict(info, seconds=round(time.perf_counter() - began, 3))
                    if not claim.held():
                        raise RuntimeError(f"lost the claim on {artifact} while making it (another job broke it)")
                    self.manifest.done(artifact, key, files, parts, shared=True, **info)
                    return self.manifest.get(artifact, shared=True)
                finally:
                    claim.release()
            owner = Claim.owner_of(self.paths.claims(self.name) / "shared" / artifact)
            if waited >= self.shard.wait_s:
                raise SharedArtifactBusy(
                    f"{self.name}: {artifact} is being made by another job ({owner}); waited {waited:.0f} s "
                    f"(shard.wait_s). Run this job again once that one has finished."
                )
            if not said:
                self.log.info("%s is being made by another job (%s): waiting", artifact, owner)
                said = True
            time.sleep(self.shard.poll_s)
            waited += self.shard.poll_s

    def take_shared(
        self, artifact: str, path: Path, adapt: Callable[[], dict] | None = None, inputs: Any = None
    ) -> dict:
        """A shared artifact of the readout_from run, linked here unchanged (then, with `adapt`, made to
        read this run's objects too, from `inputs`), keyed by that run's record of it: remaking it there
        makes it, and all that is made from it here, stale. Returns this run's record (stage.shared)."""
        theirs = Manifest(self.readout.manifest(self.name), self.readout.root).get(artifact, shared=True)
        if not theirs or theirs["status"] != "done":
            raise MissingUpstream(
                f"readout_from={self.cfg.readout_from}: that run has no {artifact} in {self.readout.stage(self.name)}: "
                f"run `python {SCRIPTS[self.name]}.py name={self.cfg.readout_from}` (its overrides) first"
            )
        source = self.readout.root / path.relative_to(self.paths.root)

        def link(tmp: Path) -> None:
            tmp.unlink()
            _link_or_copy(str(source), str(tmp))

        def make() -> dict:
            atomic_write(path, link)
            taken = dict(readout_from=self.cfg.readout_from, readout_key=theirs["key"])  # what status compares
            return dict(taken, **(adapt() if adapt else {}))

        # their key, not their name: runs that share these parts (a branch of that run) share what is made here
        return self.shared(artifact, path, make, inputs=(theirs["key"], inputs))

    def run_objects(
        self,
        objects: list[RunObject],
        outputs: Callable[[RunObject], list[Path]],
        work: Callable[[list[RunObject]], dict],
        batch: int = 1,
        desc: str | None = None,
        shared: dict[str, str] | None = None,
        config: dict | None = None,
    ) -> None:
        """Run `work` on every object of this shard that is not up to date, `batch` objects at a time.

        outputs(obj) -> the files it makes; work(objs) -> {id: info dict, or an Exception for an object
        that failed}; shared -> keys of the shared artifacts the objects are made from (an anchor)."""
        mine = self.mine(objects)
        for up in self.upstream:  # sharded: the upstream stage may still be running for these objects
            self.wait_for(f"{up}'s records", up, mine)
        todo = self._todo(mine, outputs, shared, config)
        bar = tqdm(total=len(todo), desc=desc or self.name, unit="obj", dynamic_ncols=True)
        for i in range(0, len(todo), batch):
            self._run_batch(todo[i : i + batch], outputs, work)
            bar.update(len(todo[i : i + batch]))
        bar.close()

    def _todo(self, mine: list[RunObject], outputs, shared: dict[str, str] | None, config: dict | None) -> list[tuple]:
        """(object, key, parts) of each of `mine` that is not up to date; an object whose upstream failed
        is recorded as failed here."""
        todo = []
        for o in mine:
            failure = self.upstream_failure(o.id)
            if failure:
                self.fail(o, "", f"skipped, {failure}", outputs(o))
                continue
            key, parts = self.key(config, upstream=self.upstream_keys(o.id), shared=shared or {})
            if self.manifest.is_current(o.id, key):
                self.counts["skipped"] += 1
                continue
            old = self.manifest.get(o.id)
            if old:
                self.log.info(
                    "%s: %s changed since it was made, redoing it",
                    o.id,
                    ", ".join(stale_reasons(old, parts)) or "its output on disk",
                )
            todo.append((o, key, parts))
        if self.counts["skipped"]:
            self.log.info("%d objects up to date, %d to do", self.counts["skipped"], len(todo))
        return todo

    def _run_batch(self, batch: list[tuple], outputs, work) -> None:
        """Claim the objects of one batch that no other job has, run `work` on them, record each result."""
        chunk = []
        for o, key, parts in batch:
            claim = self.claim(o.id)
            if claim is None:
                self.counts["busy"] += 1
                self.log.info("%s is being made by another job right now: left to it", o.id)
            elif self.manifest.is_current(o.id, key):  # made by another job while we queued it
                claim.release()
                self.counts["skipped"] += 1
            else:
                remove_temporaries(outputs(o))  # a killed job's half-written files
                chunk.append((o, key, parts, claim))
        results = None  # stays None if the job is interrupted: nothing is recorded then
        began = time.perf_counter()
        try:
            results = work([o for o, *_ in chunk]) if chunk else {}
        except Exception as e:  # one bad batch must not stop the others
            self.log.exception("batch %s failed", [o.id for o, *_ in chunk])
            results = {o.id: e for o, *_ in chunk}
        finally:
            # a batch's time is shared evenly by its objects (what benchmarks/stage_costs.py reads)
            seconds = round((time.perf_counter() - began) / max(1, len(chunk)), 3)
            for o, key, parts, claim in chunk:
                if results is not None:
                    result = results.get(o.id, RuntimeError("no result"))
                    if isinstance(result, dict):
                        result = dict(result, seconds=seconds)
                    self._record(o, key, parts, claim, result, outputs(o))
                claim.release()

    def keep_curve(self, obj_id: str, fit: str, curve: Iterable[float]) -> None:
        """Keep the loss per step of one object's fit (`fit` names it where a stage fits an object more
        than once); curves.py writes the kept curves as TensorBoard events and draws them."""
        if self.cfg.curves.keep:
            self._keep(self.paths.curve(self.name, fit, obj_id), curve)

    def keep_shared_curve(self, artifact: str, curve: Iterable[float]) -> None:
        """Keep the loss per step of the fit of a shared artifact (an anchor, the autoencoder, the mapper)."""
        if self.cfg.curves.keep:
            self._keep(self.paths.shared_curve(self.name, artifact), curve)

    @staticmethod
    def _keep(path: Path, curve: Iterable[float]) -> None:
        remove_temporaries([path])  # a killed earlier job's: this job holds the claim on what the curve is of
        save_json(path, dict(loss=[float(v) for v in curve]))

    def _record(self, o: RunObject, key: str, parts: dict, claim: Claim, result, outputs: list[Path]) -> None:
        if not claim.held():  # another job broke our claim (it thought us dead): its record stands
            self.log.warning("%s: lost the claim on it to another job, not recording", o.id)
        elif isinstance(result, Exception):
            self.fail(o, key, f"{type(result).__name__}: {failure_message(result)}", outputs, parts)
        else:
            self.manifest.done(o.id, key, outputs, parts, **result)
            self.counts["done"] += 1

    def fail(
        self, obj: RunObject | str, key: str, reason: str, outputs: Iterable[Path] = (), parts: dict | None = None
    ) -> None:
        """Record a failure and remove the object's outputs, so no later stage can read a stale file."""
        obj_id = obj if isinstance(obj, str) else obj.id
        for f in [*outputs, *self.paths.curves_of(self.name, obj_id)]:
            Path(f).unlink(missing_ok=True)
        self.manifest.failed(obj_id, key, reason, parts)
        self.counts["failed"] += 1
        self.failures[obj_id] = reason
        self.log.warning("%s failed: %s", obj_id, reason)

    def pending(
        self, objects: list[RunObject], shared: dict[str, str] | None = None, config: dict | None = None
    ) -> list[str]:
        """Objects (of every shard) that still lack a current record here: what a step over all objects
        (the autoencoder, the summary) must wait for. Failed ones count as settled."""
        out = []
        for o in objects:
            e = self.manifest.get(o.id)
            if self.upstream_failure(o.id):
                continue
            key = self.key(config, upstream=self.upstream_keys(o.id), shared=shared or {})[0]
            if e is None or (e["status"] == "done" and e["key"] != key):
                out.append(o.id)
        return out

    def progress(self, objects: list[RunObject] | None = None) -> dict:
        """Done, failed and missing over every shard's records of `objects` (default: all objects)."""
        ids = [o.id for o in (self.objects() if objects is None else objects)]
        status = [(self.manifest.get(i) or {}).get("status") for i in ids]
        return dict(
            total=len(ids), done=status.count("done"), failed=status.count("failed"), missing=status.count(None)
        )

    def finish(self) -> dict:
        c = self.counts
        self.log.info(
            "%s finished in %.1f s: %d done, %d up to date, %d failed%s",
            self.name,
            time.time() - self.started,
            c["done"],
            c["skipped"],
            c["failed"],
            f", {c['busy']} left to other jobs" if c["busy"] else "",
        )
        for obj_id, reason in self.failures.items():
            self.log.warning("  FAILED %s: %s", obj_id, reason)
        everyone = None
        if self.paths.objects.exists() and self.name != "01_download":
            everyone = self.progress()
            if self.shard.count > 1:
                self.log.info(
                    "%s, all shards: %d/%d done, %d failed, %d not yet made",
                    self.name,
                    everyone["done"],
                    everyone["total"],
                    everyone["failed"],
                    everyone["missing"],
                )
        return dict(c, failures=dict(self.failures), all_shards=everyone)


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
