"""Scale-out on the tiny preset: shards through Hydra's joblib and submitit_local launchers equal one
process, concurrent jobs lose nothing and record nothing under a wrong key, a SIGKILLed stage resumes to
the same result, a sweep branches runs without recomputing upstream, and `status` tells what is left."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, THREADS, make_cfg

from hypershape.objects import load_objects
from hypershape.paths import STAGE_DIRS, Paths, paths_of
from hypershape.pipeline import run_all, run_stage
from hypershape.provenance import object_config
from hypershape.records import Claim, Manifest, fingerprint, load_json, shard_of
from hypershape.runtime import MissingUpstream, Stage
from hypershape.status import run_status

ENV = dict(os.environ, PYOPENGL_PLATFORM="egl", PYTHONUNBUFFERED="1")
BOOKKEEPING = {"manifest", "claims", "multirun"}
NOT_ARTIFACTS = {"log.txt", "config.yaml", "code.json", "branched_from.json"}


def script(name: str, *overrides: str, wait: bool = True):
    cmd = [sys.executable, f"{name}.py", *overrides]
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def content(path: Path):
    """A file's content, comparable across runs (archives hold write times, so compare what they hold)."""
    if path.suffix == ".npz":
        with np.load(path) as z:
            return {k: z[k].tobytes() for k in sorted(z.files)}
    if path.suffix == ".pt":
        return _plain(torch.load(path, weights_only=False))
    return path.read_bytes()


def _plain(x):
    if isinstance(x, torch.Tensor):
        return (str(x.dtype), tuple(x.shape), x.numpy().tobytes())
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def artifacts(root: Path, stages=STAGE_DIRS) -> dict:
    """Every output file of `stages` in a run (not its bookkeeping), by path relative to the run."""
    out = {}
    for stage in stages:
        for f in sorted((root / stage).rglob("*")):
            rel = f.relative_to(root)
            if (
                f.is_file()
                and not BOOKKEEPING & set(rel.parts)
                and f.name not in NOT_ARTIFACTS
                and not f.name.startswith(".")
            ):
                out[str(rel)] = content(f)
    return out


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, differ


@pytest.fixture
def reference(tiny_run):
    """One uninterrupted tiny run in one process (the shared one: joblib's workers run one thread each, and
    it was made on one thread)."""
    return tiny_run[0]


@pytest.mark.slow
def test_two_shards_through_joblib_equal_one_process(reference, tmp_path):
    """The whole pipeline in two shards: each waits for the shared artifacts (anchors, autoencoder, mapper)
    the other may be making."""
    data = tmp_path / "joblib"
    script(
        "run_pipeline",
        "-m",
        "hydra/launcher=joblib",
        "shard.count=2",
        "shard.index=0,1",
        "preset=tiny",
        f"data_dir={data}",
        "shard.poll_s=0.5",
        THREADS,
    )
    one, two = paths_of(reference).root, data / "tiny"
    assert_same(artifacts(one), artifacts(two))
    assert load_json(Paths(data, "tiny").summary_json)["rows"] == load_json(paths_of(reference).summary_json)["rows"]
    ids = [o.id for o in load_objects(paths_of(reference).objects)]
    assert {shard_of(i, 2) for i in ids} == {0, 1}  # both shards had work
    status = run_status(make_cfg("preset=tiny", f"data_dir={data}", THREADS))
    unfinished = {k: s for k, s in status.items() if not s["missing"] == s["stale"] == s["failed"] == 0}
    assert not unfinished, unfinished  # which stage, and why, when it fails


@pytest.mark.slow
def test_two_shards_through_submitit_equal_one_process(reference, tmp_path):
    """submitit's launcher (its local twin of the SLURM one) runs a stage's shards as its jobs; one stage
    is enough here, the shards' waiting on each other is the joblib test's."""
    cfg = make_cfg("preset=tiny", f"data_dir={tmp_path}", THREADS)
    run_stage("01_download", cfg)
    script(
        "02_watertight",
        "-m",
        "hydra/launcher=submitit_local",
        "shard.count=2",
        "shard.index=0,1",
        "preset=tiny",
        f"data_dir={tmp_path}",
        THREADS,
    )
    assert list((tmp_path / "multirun").rglob("*_submitted.pkl")), "the jobs did not go through submitit"
    assert_same(
        artifacts(paths_of(reference).root, ["02_watertight"]), artifacts(paths_of(cfg).root, ["02_watertight"])
    )
    made = Manifest(paths_of(cfg).manifest("02_watertight"), paths_of(cfg).root)
    ids = [o.id for o in load_objects(paths_of(cfg).objects)]
    assert {shard_of(i, 2) for i in ids} == {0, 1} and all(made.get(i) for i in ids)


@pytest.mark.slow
def test_two_processes_of_one_stage_at_once_lose_nothing(reference, tmp_path):
    cfg = make_cfg("preset=tiny", f"data_dir={tmp_path}", THREADS)
    run_stage("01_download", cfg)
    jobs = [script("02_watertight", "preset=tiny", f"data_dir={tmp_path}", THREADS, wait=False) for _ in range(2)]
    assert [j.wait(600) for j in jobs] == [0, 0], [j.stderr.read()[-2000:] for j in jobs]
    r = run_stage("02_watertight", cfg)
    assert r["done"] == 0 and r["skipped"] == 4  # every object recorded once, nothing lost
    assert_same(
        artifacts(paths_of(reference).root, ["02_watertight"]), artifacts(paths_of(cfg).root, ["02_watertight"])
    )


@pytest.mark.slow
def test_two_configs_at_once_never_record_one_under_the_others_key(tmp_path):
    """Two runs of 02 with different beta race on the same objects: whichever made an object's files,
    its record carries that run's key, and the files are what that config makes."""
    a, b = "data.beta=30", "data.beta=45"
    refs = {}
    for ov in (a, b):
        c = make_cfg("preset=tiny", f"data_dir={tmp_path / ov.replace('=', '')}", ov)
        run_all(c, until="02_watertight")
        refs[fingerprint(object_config(c, "02_watertight"))] = paths_of(c)
    cfg = make_cfg("preset=tiny", f"data_dir={tmp_path / 'race'}")
    run_stage("01_download", cfg)
    jobs = [script("02_watertight", "preset=tiny", f"data_dir={tmp_path / 'race'}", ov, wait=False) for ov in (a, b)]
    assert [j.wait(600) for j in jobs] == [0, 0]
    p = paths_of(cfg)
    m = Manifest(p.manifest("02_watertight"), p.root)
    for i in m.ids():
        ref = refs[m.get(i)["parts"]["config"]]  # KeyError: a key neither config makes
        assert content(p.sdf_samples(i)) == content(ref.sdf_samples(i)), i
        assert m.outputs_intact(m.get(i))


def copy_run_until(ref: Paths, dst: Paths, stage: str) -> None:
    for s in STAGE_DIRS[: STAGE_DIRS.index(stage)]:
        shutil.copytree(ref.stage(s), dst.stage(s), ignore=shutil.ignore_patterns("claims"))


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.6])
def test_a_sigkilled_stage_resumes_to_the_same_result(reference, tmp_path, delay):
    """SIGKILL 40 as soon as it has recorded its anchor (delay 0) or one object, then run it again."""
    ref, cfg = paths_of(reference), make_cfg("preset=tiny", f"data_dir={tmp_path}", THREADS)
    p = paths_of(cfg)
    copy_run_until(ref, p, "40_image_sirens")
    job = script("40_train_image_sirens", "preset=tiny", f"data_dir={tmp_path}", THREADS, wait=False)
    m = Manifest(p.manifest("40_image_sirens"), p.root)
    deadline = time.time() + 300
    while (
        not (m.is_done("anchor", shared=True) and (delay == 0 or m.ids()))
        and job.poll() is None
        and time.time() < deadline
    ):
        time.sleep(0.05)
    time.sleep(delay * np.random.default_rng().random())
    job.send_signal(signal.SIGKILL)
    job.wait()
    done_before = sum(m.is_done(i) for i in m.ids())
    r = run_stage("40_train_image_sirens", cfg)
    assert r["failed"] == 0 and r["done"] + r["skipped"] == 4
    assert r["done"] == 4 - done_before  # the rerun made exactly what the kill left undone
    assert not list(p.stage("40_image_sirens").rglob(".*.*"))  # no half-written file left behind
    assert_same(artifacts(ref.root, ["40_image_sirens"]), artifacts(p.root, ["40_image_sirens"]))


def test_a_claim_of_a_dead_job_is_taken_over_and_a_live_one_is_not(tmp_path):
    live = Claim.take(tmp_path / "obj", stale_after=60)
    assert live is not None and Claim.take(tmp_path / "obj", stale_after=60) is None
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    (tmp_path / "other").write_text(f'{{"host": "{os.uname().nodename}", "pid": {dead.pid}, "token": "x"}}')
    assert Claim.take(tmp_path / "other", stale_after=60) is None  # its owner still runs
    dead.kill()
    dead.wait()
    taken = Claim.take(tmp_path / "other", stale_after=60)
    assert taken is not None and taken.held()
    live.release()
    taken.release()


def test_a_job_alone_waits_for_what_a_second_job_is_making_and_no_longer(reference, tmp_path):
    """Two unsharded pipelines on one run: a stage whose upstream record is missing waits while another
    live job holds that object's claim, and stops at once (naming the script) when nobody does."""
    cfg = make_cfg("preset=tiny", f"data_dir={tmp_path}", THREADS, "shard.poll_s=0.05")
    p = paths_of(cfg)
    copy_run_until(paths_of(reference), p, "50_hypernets")
    stage = Stage(cfg, "50_hypernets")
    objects = stage.objects()
    record = p.manifest("40_image_sirens") / "objects" / f"{objects[0].id}.json"
    saved = record.read_bytes()
    record.unlink()
    other = Claim.take(p.claims("40_image_sirens") / "objects" / objects[0].id, stale_after=60)

    def finish():  # the other job records the object, then lets go of it
        time.sleep(0.5)
        record.write_bytes(saved)
        other.release()

    helper = threading.Thread(target=finish)
    began = time.perf_counter()
    helper.start()
    stage.wait_for("the image-SIRENs", "40_image_sirens", objects)
    helper.join()
    assert time.perf_counter() - began >= 0.5
    record.unlink()
    with pytest.raises(MissingUpstream, match=r"python 40_train_image_sirens\.py"):
        stage.wait_for("the image-SIRENs", "40_image_sirens", objects)


@pytest.mark.slow
def test_a_sweep_gets_one_run_per_value_and_reuses_upstream(reference, tmp_path):
    data = tmp_path / "sweep"
    copy_run_until(paths_of(reference), Paths(data, "tiny"), "50_hypernets")
    script("50_train_hypernets", "-m", "preset=tiny", f"data_dir={data}", "hypernet.steps=3,4", THREADS)
    base = Paths(data, "tiny")
    runs = [Paths(data, f"tiny+hypernet.steps={n}") for n in (3, 4)]
    ids = [o.id for o in load_objects(base.objects)]
    for r in runs:
        assert load_json(r.branched_from)["run"] == "tiny"
        assert all(Manifest(r.manifest("50_hypernets"), r.root).is_done(i) for i in ids)
        for i in ids:  # upstream files are the base run's own (hard links), not recomputed
            assert os.stat(r.image_sirens(i)).st_ino == os.stat(base.image_sirens(i)).st_ino
    assert not Manifest(base.manifest("50_hypernets"), base.root).exists()  # the base run is untouched
    a, b = (torch.load(r.hypernet(ids[0]), weights_only=False)["state"] for r in runs)
    assert any(not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_status_counts_done_stale_failed_missing(reference, tmp_path):
    data = tmp_path / "status"
    shutil.copytree(paths_of(reference).root, data / "tiny", ignore=shutil.ignore_patterns("claims"))
    cfg = make_cfg("preset=tiny", f"data_dir={data}", THREADS)
    s = run_status(cfg)
    assert all(v["done"] == 4 and v["stale"] == 0 for v in s.values())
    p = paths_of(cfg)
    victim = load_objects(p.objects)[0].id
    m = Manifest(p.manifest("03_render_views"), p.root)
    m.failed(victim, "", "RuntimeError: a broken renderer")
    (Manifest(p.manifest("90_reconstruct"), p.root).dir / "objects" / f"{victim}.json").unlink()
    s = run_status(make_cfg("preset=tiny", f"data_dir={data}", THREADS, "hypernet.steps=7"))
    assert s["03_render_views"]["failures"] == {victim: "RuntimeError: a broken renderer"}
    assert s["40_image_sirens"]["stale"] == 1 and s["40_image_sirens"]["stale_why"] == {"upstream": 1}
    assert s["50_hypernets"]["stale"] == 4 and "config" in next(iter(s["50_hypernets"]["stale_why"]))
    assert s["80_shape_sirens"]["stale"] == 4  # everything below a stale stage is stale
    assert s["90_reconstruct"]["missing"] == 1
    # 01 imports its source by name: a record made by another version of the source's code is stale, and
    # so is everything made from it (a rerun would download it again)
    record = Manifest(p.manifest("01_download"), p.root).dir / "objects" / f"{victim}.json"
    made = json.loads(record.read_text())
    made["parts"]["source_code"] = "an older version"
    record.write_text(json.dumps(made))
    s = run_status(cfg)
    assert s["01_download"]["stale"] == 1 and s["01_download"]["stale_why"] == {"source code": 1}
    assert s["02_watertight"]["stale"] == 1 and s["02_watertight"]["stale_why"] == {"upstream": 1}


@pytest.mark.slow
def test_a_rerun_clears_what_a_killed_write_left_half_done(reference, tmp_path):
    """A SIGKILL inside atomic_write leaves its hidden temporary; the job that remakes the object removes it."""
    ref, cfg = paths_of(reference), make_cfg("preset=tiny", f"data_dir={tmp_path}", THREADS)
    p = paths_of(cfg)
    copy_run_until(ref, p, "40_image_sirens")
    victim = load_objects(p.objects)[0].id
    half = p.views(victim).with_name(f".{victim}.abcd1234.npz")
    half.write_bytes(b"half an npz")
    (Manifest(p.manifest("03_render_views"), p.root).dir / "objects" / f"{victim}.json").unlink()
    assert run_stage("03_render_views", cfg)["done"] == 1
    assert not half.exists() and content(p.views(victim)) == content(ref.views(victim))


def test_a_shared_artifact_made_from_other_objects_says_so():
    """An autoencoder remade because it learns from other objects (same config and code) names the inputs,
    not 'its output'."""
    from hypershape.records import stale_reasons

    old = dict(parts=dict(config="c", code="k", numerics=None, inputs="ten objects"))
    assert stale_reasons(old, dict(config="c", code="k", numerics=None, inputs="twenty objects")) == ["inputs"]
    assert stale_reasons(old, dict(config="c", code="k", numerics=None, inputs="ten objects")) == []
