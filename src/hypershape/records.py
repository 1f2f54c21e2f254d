"""Records of what is made, safe to share between jobs and machines: atomic writes, fingerprints, one
manifest record per object, and claims (who is making what right now). No torch here, so `status` and
tools that only read records start in well under a second."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

log = logging.getLogger("hypershape")


# ---------------------------------------------------------------- atomic writes
def temporary(folder: Path, prefix: str, suffix: str = "", directory: bool = False) -> Path:
    """Create a new file (or folder) named prefix + 8 random hex digits + suffix in `folder`, with the
    default permissions (0666 or 0777 less the umask, as `open` and `mkdir` give) where mkstemp/mkdtemp
    would give 0600/0700 and hide the results from the user's group."""
    for _ in range(100):
        path = Path(folder) / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            if directory:
                os.mkdir(path)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name {prefix}*{suffix} in {folder}")


def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """Write through a temporary file in the same folder, then rename: a killed run leaves no half file
    under the real name (a SIGKILL can leave the hidden temporary; `remove_temporaries` clears it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(path.parent, f".{path.stem}.", path.suffix)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def remove_temporaries(paths: Iterable[Path]) -> None:
    """Delete the hidden temporaries a killed atomic_write left for these files. Only for files whose maker
    holds their claim: another job's write in progress would otherwise lose its temporary."""
    for path in map(Path, paths):
        if path.parent.is_dir():
            # temporary's names: "." + stem + "." + 8 random characters + suffix; exactly 8, so the
            # temporaries of an object "a.b" never match those of an object "a"
            for tmp in path.parent.glob(f".{path.stem}.{'?' * 8}{path.suffix}"):
                tmp.unlink(missing_ok=True)


def save_json(path: Path, obj: Any) -> Path:
    return atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=1, default=_json_default)))


def save_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text))


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (config sections, upstream keys)."""
    text = json.dumps(parts, sort_keys=True, default=_json_default)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- shards and claims
def shard_of(obj_id: str, count: int) -> int:
    """The shard an object belongs to: a function of its id alone, so a shard's work never changes
    when other objects fail or are added."""
    return int(hashlib.sha1(obj_id.encode()).hexdigest()[:8], 16) % max(1, count)


def _alive(host: str, pid: int) -> bool | None:
    """Whether the process that wrote a claim still runs; None when it is on another machine."""
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Claim:
    """Who is making one object or shared artifact right now: a file created with O_CREAT|O_EXCL, which is
    atomic on local filesystems and on NFSv3+ (Linux clients), so of two jobs that try at once exactly one
    gets it. No fcntl/flock locks, which NFS does not reliably honour. The owner touches the file every
    `stale_after/4` seconds; a claim whose owner died (same host: its pid is gone; another host: no touch
    for `stale_after` seconds) is broken by the next job that wants it."""

    def __init__(self, path: Path, owner: dict, stale_after: float):
        self.path, self.owner = path, owner
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, args=(stale_after / 4,), daemon=True)
        self._beat.start()

    @classmethod
    def take(cls, path: Path, stale_after: float) -> "Claim | None":
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        owner = dict(host=socket.gethostname(), pid=os.getpid(), token=uuid.uuid4().hex, since=time.time())
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                if not cls._break_if_stale(path, stale_after):
                    return None
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(owner, f)
            return cls(path, owner, stale_after)
        return None

    @staticmethod
    def owner_of(path: Path) -> dict | None:
        try:
            return json.loads(Path(path).read_text())
        except (OSError, ValueError):  # gone, or being written this instant
            return None

    @staticmethod
    def _live(owner: dict | None, age: float, stale_after: float) -> bool:
        """Whether a claim whose file is `age` seconds old is held by a job that still runs (an unreadable
        owner is one being written this instant: live while the file is young)."""
        alive = _alive(owner["host"], owner["pid"]) if owner else None
        return bool(alive) or (alive is None and age < stale_after)

    @classmethod
    def is_live(cls, path: Path, stale_after: float) -> bool:
        """Whether some job that still runs holds the claim at `path` (False when there is none)."""
        try:
            age = time.time() - Path(path).stat().st_mtime
        except FileNotFoundError:
            return False
        return cls._live(cls.owner_of(path), age, stale_after)

    @classmethod
    def _break_if_stale(cls, path: Path, stale_after: float) -> bool:
        owner = cls.owner_of(path)
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return True
        if cls._live(owner, age, stale_after):
            return False
        if cls.owner_of(path) != owner:  # taken over meanwhile
            return False
        try:  # rename first: of two jobs breaking the same stale claim, one rename wins
            os.rename(path, path.with_name(f"{path.name}.stale-{uuid.uuid4().hex}"))
        except FileNotFoundError:
            return True
        for p in path.parent.glob(f"{path.name}.stale-*"):
            p.unlink(missing_ok=True)
        log.warning("took over %s from %s (its owner stopped)", path, owner)
        return True

    def _heartbeat(self, every: float) -> None:
        while not self._stop.wait(every):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def held(self) -> bool:
        o = self.owner_of(self.path)
        return bool(o) and o.get("token") == self.owner["token"]

    def release(self) -> None:
        self._stop.set()
        if self.held():
            self.path.unlink(missing_ok=True)


# ---------------------------------------------------------------- manifest
class Manifest:
    """Per stage, one small JSON record per object (manifest/objects/<id>.json) and per shared artifact
    (manifest/shared/<name>.json): its status, the key of what made it and the parts of that key, the size
    and mtime of each output it vouches for, its figures, or the reason it failed. Recording one object
    writes one file (atomically), so N = 10,000 costs what N = 100 does and shards never overwrite each
    other's records."""

    def __init__(self, folder: Path, root: Path):
        self.dir, self.root = Path(folder), Path(root)

    def exists(self) -> bool:
        return self.dir.is_dir()

    def _file(self, name: str, shared: bool) -> Path:
        return self.dir / ("shared" if shared else "objects") / f"{name}.json"

    def get(self, name: str, shared: bool = False) -> dict | None:
        try:
            return load_json(self._file(name, shared))
        except FileNotFoundError:
            return None

    def is_done(self, name: str, shared: bool = False) -> bool:
        e = self.get(name, shared)
        return bool(e) and e["status"] == "done"

    def key(self, name: str, shared: bool = False) -> str | None:
        e = self.get(name, shared)
        return e["key"] if e else None

    def ids(self) -> list[str]:
        """Every object with a record (any status)."""
        d = self.dir / "objects"
        return sorted(p.name[:-5] for p in d.glob("*.json") if not p.name.startswith(".")) if d.is_dir() else []

    def _stats(self, files: Iterable[Path]) -> dict:
        out = {}
        for f in files:
            st = Path(f).stat()
            out[os.path.relpath(f, self.root)] = [st.st_size, st.st_mtime_ns]
        return out

    def outputs_intact(self, entry: dict) -> bool:
        """The files a record vouches for are still the ones it was written for (same size and mtime)."""
        for rel, stat in entry.get("outputs", {}).items():
            try:
                st = (self.root / rel).stat()
            except FileNotFoundError:
                return False
            if [st.st_size, st.st_mtime_ns] != stat:
                return False
        return True

    def is_current(self, name: str, key: str, shared: bool = False) -> bool:
        e = self.get(name, shared)
        return bool(e) and e["status"] == "done" and e["key"] == key and self.outputs_intact(e)

    def done(
        self, name: str, key: str, outputs: Iterable[Path] = (), parts: dict | None = None, shared: bool = False, **info
    ) -> None:
        save_json(
            self._file(name, shared),
            {**info, "status": "done", "key": key, "parts": parts, "outputs": self._stats(outputs)},
        )

    def failed(self, name: str, key: str, reason: str, parts: dict | None = None, shared: bool = False) -> None:
        save_json(self._file(name, shared), {"status": "failed", "key": key, "parts": parts, "reason": reason})


def stale_reasons(old: dict | None, new: dict) -> list[str]:
    """Which parts of a key changed (config, code, numerics, upstream, shared, inputs: the objects a shared
    artifact learns from): what `status` and the stage logs say when an output is redone."""
    if not old or not old.get("parts"):
        return ["made by an older pipeline version"]
    return [
        k for k in ("config", "code", "numerics", "upstream", "shared", "inputs") if old["parts"].get(k) != new.get(k)
    ]
