"""objects.json as typed records (objects.py): the file 01 writes reads back and writes out byte for byte, and
the split key that every readout's provenance holds is the one the plain JSON gives; a stage tells an object's
upstream keys from the reason it cannot be made."""

import json

import pytest
from conftest import make_cfg

from hypershape.objects import RunObject, Subset, load_objects, save_objects
from hypershape.paths import paths_of
from hypershape.pipeline import run_stage
from hypershape.records import Manifest, fingerprint, load_json, save_json
from hypershape.runtime import Stage
from hypershape.stages.common import split_key

# what 01 lists for each kind of source: a procedural object (family, index, params), a local file (sha1, no
# family), a failed download (no split, a reason); the optional fields sit where Candidate.entry puts them
LISTED = [
    dict(
        id="torus_0000",
        source="procedural",
        ref="torus",
        license="generated",
        genus=1,
        family="torus",
        index=0,
        params={"major": 0.303, "scale": [1.2, 0.9, 1.4]},
        split="train",
        status="done",
        reason=None,
        raw="01_download/raw/torus_0000.ply",
    ),
    dict(
        id="mug",
        source="local",
        ref="mug.obj",
        license=None,
        genus=None,
        sha1="0123abcd",
        split="test",
        status="done",
        reason=None,
        raw="01_download/raw/mug.obj",
    ),
    dict(
        id="uid42",
        source="objaverse",
        ref="uid42",
        license="by",
        genus=None,
        split=None,
        status="failed",
        reason="ValueError: mesh has no faces or non-finite vertices",
        raw="01_download/raw/uid42.glb",
    ),
]


def test_every_kind_of_entry_reads_back_and_writes_the_same_bytes(tmp_path):
    before = save_json(tmp_path / "before.json", LISTED)
    objects = load_objects(before)
    assert [o.split for o in objects] == [Subset.train, Subset.test, None]
    assert [o.fetched for o in objects] == [True, True, False]
    assert (objects[0].family, objects[0].index, objects[1].sha1, objects[2].reason) == (
        "torus",
        0,
        "0123abcd",
        LISTED[2]["reason"],
    )
    assert [o.id for o in load_objects(before, fetched_only=True)] == ["torus_0000", "mug"]
    after = save_objects(tmp_path / "after.json", objects)
    assert after.read_bytes() == before.read_bytes()


def test_an_unknown_split_or_field_is_refused():
    with pytest.raises(ValueError, match="held"):
        RunObject.from_json(dict(LISTED[0], split="held"))
    with pytest.raises(TypeError, match="colour"):
        RunObject.from_json(dict(LISTED[0], colour="red"))


def test_01s_list_round_trips_and_keeps_the_split_key(tmp_path):
    cfg = make_cfg("preset=tiny", f"data_dir={tmp_path}")
    run_stage("01_download", cfg)
    path = paths_of(cfg).objects
    objects = load_objects(path)
    assert {o.split for o in objects} == set(Subset)
    assert save_objects(tmp_path / "again.json", objects).read_bytes() == path.read_bytes()
    # the split key the readouts' keys hold: as the plain strings of the file give it, so no run goes stale
    assert split_key(objects) == fingerprint(sorted((e["id"], e["split"]) for e in load_json(path)))


def test_a_subset_is_its_bare_value_in_json_text_and_comparisons():
    assert json.dumps({"split": Subset.test}) == '{"split": "test"}'
    assert f"{Subset.train}/{Subset.test}" == "train/test" and "%s" % Subset.train == "train"
    assert Subset.train == "train" and Subset("test") is Subset.test


def test_an_object_has_upstream_keys_or_the_reason_it_cannot_be_made(tiny_cfg):
    cfg = tiny_cfg()
    p = paths_of(cfg)
    made = Manifest(p.manifest("01_download"), p.root)
    made.done("fine", "k1")
    made.failed("broken", "k2", "ValueError: no faces")
    stage = Stage(cfg, "02_watertight")
    assert stage.upstream_failure("fine") is None
    assert stage.upstream_keys("fine") == {"01_download": "k1"}
    assert stage.upstream_failure("broken") == "01_download failed: ValueError: no faces"
    assert stage.upstream_failure("unlisted") == "01_download has no output for it: run 01_download.py"
