"""Tests compose the real configs (configs/) and shrink them with the `tiny` preset and a tmp data_dir.

The end-to-end tests share a few tiny runs, each made once per session (the fixtures below), by whichever
pytest-xdist worker needs it first while the others wait for it: tests read them and never write into them.
A test that changes a run works on a copy of it (`copy_run`) or on a run branched from it
(experiments.common.variant: hard links, and every write replaces a file by rename)."""

import copy
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from filelock import FileLock
from hydra import compose, initialize_config_dir

import hypershape.config  # noqa: F401  (registers the schema)
from hypershape.config import Route
from hypershape.experiments.common import variant
from hypershape.objects import load_objects
from hypershape.paths import STAGE_DIRS, paths_of
from hypershape.pipeline import run_all
from hypershape.runtime import Manifest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
ROUTES = [r.value for r in Route]
# CPU matrix products sum in an order that depends on the thread count (last bits only): runs whose bytes
# are compared are made at equal thread counts. torch's setting is process-wide, so the shared runs set it.
THREADS = "device.threads=1"
# Every test on one torch thread, whichever tests ran before it (a shared run sets it for the whole process
# anyway): two threads that wait on each other at every operation (MKL_DYNAMIC is off) crawl whenever the
# machine's cores are busy with other work.
torch.set_num_threads(1)


def repo_copy(folder: Path, *scripts: str) -> tuple[Path, dict]:
    """A copy of the package, the configs and the named scripts under `folder`, and the environment that runs
    the scripts on it. A test that adds a module (a source, a route) adds it there: written into the checkout,
    other workers' tests would see it meanwhile (a route module changes 70-90's code version; a data yaml
    changes the choices every composed config offers)."""
    repo = folder / "repo"
    shutil.copytree(ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(ROOT / "configs", repo / "configs")
    for name in scripts:
        shutil.copy(ROOT / name, repo)
    return repo, dict(os.environ, PYTHONPATH=str(repo / "src"))


def make_cfg(*overrides: str):
    with initialize_config_dir(str(ROOT / "configs"), version_base=None):
        return compose("config", overrides=list(overrides))


def records(cfg, stage: str, split: str | None = None) -> dict:
    """{object id: its record in the stage's manifest} of a run's objects (of one split, if given)."""
    p = paths_of(cfg)
    manifest = Manifest(p.manifest(stage), p.root)
    return {o.id: manifest.get(o.id) for o in load_objects(p.objects) if split in (None, o.split)}


def with_umask(mask: int, make):
    old = os.umask(mask)
    try:
        return make()
    finally:
        os.umask(old)


def copy_run(cfg, data_dir: Path, until: str | None = None):
    """A copy of cfg's run in data_dir (only its stages up to and including `until`, if given), and cfg
    pointed at it: a run a test may change without touching the shared one."""
    src, stages = paths_of(cfg), STAGE_DIRS[: STAGE_DIRS.index(until) + 1] if until else STAGE_DIRS
    out = copy.deepcopy(cfg)
    out.data_dir = str(data_dir)
    dst = paths_of(out)
    if until:
        dst.root.mkdir(parents=True)
        for stage in stages:
            shutil.copytree(src.root / stage, dst.root / stage, ignore=shutil.ignore_patterns("claims"))
    else:
        shutil.copytree(src.root, dst.root, ignore=shutil.ignore_patterns("claims"))
    return out


@pytest.fixture
def tiny_cfg(tmp_path):
    def make(*overrides: str):
        return make_cfg("preset=tiny", f"data_dir={tmp_path}", *overrides)

    return make


@pytest.fixture(scope="session")
def shared_data(tmp_path_factory) -> Path:
    """The data_dir of the shared runs (branches of the tiny run are made beside it): one for the whole
    session, which under pytest-xdist is the directory above each worker's own base temp directory."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return tmp_path_factory.mktemp("shared")
    out = tmp_path_factory.getbasetemp().parent / "shared"
    out.mkdir(exist_ok=True)
    return out


def made_once(shared: Path, name: str, make) -> dict:
    """make()'s result (JSON), made by the first xdist worker to get here; the others wait on the lock and
    read what it wrote, so each shared run is trained once per session however many workers use it."""
    done = shared / f"{name}.json"
    with FileLock(shared / f"{name}.lock"):
        if not done.exists():
            result = make()
            tmp = done.with_suffix(".tmp")
            tmp.write_text(json.dumps(result))
            tmp.replace(done)  # a worker that dies mid-write leaves no result for the others to trust
    return json.loads(done.read_text())


@pytest.fixture(scope="session")
def made_tiny_run(shared_data):
    """One tiny run of all nine stages by route latent, in one process, under umask 022, on one CPU thread:
    its config and run_all's counts of a run made from nothing."""
    cfg = make_cfg("preset=tiny", f"data_dir={shared_data}", THREADS)
    return cfg, made_once(shared_data, "tiny", lambda: with_umask(0o022, lambda: run_all(cfg)))


@pytest.fixture
def tiny_run(made_tiny_run):
    """(config, counts) of the shared tiny run; copies, so a test may edit them (never the run's files)."""
    return copy.deepcopy(made_tiny_run)


@pytest.fixture(scope="session")
def made_route_runs(made_tiny_run):
    """{route: config} of run `tiny-routes`, branched from the tiny run (its 01-60), with 70-90 made by every
    route (once per session)."""
    base = made_tiny_run[0]
    cfgs = {r: variant(base, "routes", **{"mapper.route": r}) for r in ROUTES}
    made_once(Path(base.data_dir), "routes", lambda: {r: run_all(cfg) for r, cfg in cfgs.items()})
    return cfgs


@pytest.fixture
def route_runs(made_route_runs):
    """{route: config} of the shared run of every route."""
    return copy.deepcopy(made_route_runs)


@pytest.fixture(scope="session")
def made_copies_run(made_tiny_run):
    """Run `tiny-copies`, branched from the tiny run, with two hypernetworks per object (hypernet.copies=2):
    50-90 made again by route latent (the copies are route-independent; every route is tested on
    `tiny-routes`)."""
    cfg = variant(made_tiny_run[0], "copies", **{"hypernet.copies": 2})
    made_once(Path(cfg.data_dir), "copies", lambda: run_all(cfg))
    return cfg


@pytest.fixture
def copies_run(made_copies_run):
    """The config of the shared run with two hypernetworks per object."""
    return copy.deepcopy(made_copies_run)
