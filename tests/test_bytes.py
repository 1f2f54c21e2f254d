"""Identical runs write identical bytes (so checksums and content-addressed caches work), a sharded run
writes the bytes one process does, and every file and folder a run makes keeps the user's umask."""

import stat
from pathlib import Path

import pytest
from conftest import THREADS, make_cfg, with_umask

from hypershape.paths import SCRIPTS, STAGE_DIRS, paths_of
from hypershape.pipeline import run_stage
from hypershape.records import atomic_write, remove_temporaries, temporary

# What legitimately differs between two equal runs: the records (their files' mtimes, seconds taken), the
# logs (times of day), the live claims, and the resolved config (it names the data_dir).
NOT_CONTENT = {"manifest", "claims", "log.txt", "config.yaml"}


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(f.relative_to(root)): f.read_bytes()
        for f in sorted(root.rglob("*"))
        if f.is_file() and not NOT_CONTENT & set(f.relative_to(root).parts)
    }


@pytest.fixture(scope="module")
def runs(made_tiny_run, tmp_path_factory):
    """The shared tiny run (one process, umask 022, one thread), and the same run made in two shards, one
    after the other stage by stage, under umask 027."""
    out = {"one": paths_of(made_tiny_run[0]).root}
    data = tmp_path_factory.mktemp("sharded")
    for stage in STAGE_DIRS:  # each shard in turn: what one shard needs of the other is made by then
        for index in (0, 1):
            cfg = make_cfg("preset=tiny", f"data_dir={data}", THREADS, "shard.count=2", f"shard.index={index}")
            with_umask(0o027, lambda cfg=cfg, stage=stage: run_stage(SCRIPTS[stage], cfg))
    out["sharded"] = paths_of(cfg).root
    return out


@pytest.mark.slow
def test_a_run_in_two_shards_writes_the_bytes_of_one_process(runs):
    """Two equal runs (the same objects, settings and seeds; one of them sharded) write equal bytes."""
    one, two = files_of(runs["one"]), files_of(runs["sharded"])
    assert sorted(one) == sorted(two)
    assert any(k.endswith(".pt") for k in one) and any(k.endswith(".npz") for k in one)
    assert [k for k in one if one[k] != two[k]] == []


@pytest.mark.slow
@pytest.mark.parametrize("run, files, folders", [("one", 0o644, 0o755), ("sharded", 0o640, 0o750)])
def test_every_file_and_folder_keeps_the_umask(runs, run, files, folders):
    root = runs[run]
    wrong = [
        (str(f.relative_to(root)), oct(stat.S_IMODE(f.stat().st_mode)))
        for f in [root, *root.rglob("*")]
        if stat.S_IMODE(f.stat().st_mode) != (folders if f.is_dir() else files)
    ]
    assert wrong == []


def test_a_killed_writes_temporary_is_found_and_no_other_objects_is(tmp_path):
    """remove_temporaries matches the names `temporary` gives an object's files, and not those of an
    object whose id extends it ("a" and "a.b")."""
    leftovers = [temporary(tmp_path, ".a.", ".pt"), temporary(tmp_path, ".a.b.", ".pt")]
    atomic_write(tmp_path / "a.pt", lambda p: p.write_bytes(b"x"))
    remove_temporaries([tmp_path / "a.pt"])
    assert not leftovers[0].exists() and leftovers[1].exists()
    assert (tmp_path / "a.pt").read_bytes() == b"x"
