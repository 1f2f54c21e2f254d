"""The seeded procedural catalogue (sources/procedural.py) and the splits 01 draws over it (stages/download.py):
size, determinism, stable names, the genus each family promises surviving 02's solid, and the split rules."""

import dataclasses
import json
import logging

import pytest
from conftest import make_cfg

from hypershape.objects import RunObject, Subset, load_objects
from hypershape.paths import paths_of
from hypershape.pipeline import run_stage
from hypershape.provenance import object_config
from hypershape.sources import procedural
from hypershape.stages.download import assign_split, split_of

FAMILIES = list(procedural.FAMILIES)


def _params(s):
    return json.dumps(s.params, sort_keys=True)


# --- the generator -------------------------------------------------------------------------------------


def test_a_thousand_distinct_solids_over_twenty_families_named_by_family_and_index():
    big = procedural.catalogue(1000)
    assert len(FAMILIES) >= 20 and {s.family for s in big} == set(FAMILIES)
    assert len({s.name for s in big}) == 1000 and len({_params(s) for s in big}) == 1000
    assert all(s.name == f"{s.family}_{s.index:04d}" for s in big)
    # round-robin: object k of every family, then k + 1
    assert [s.family for s in big[: len(FAMILIES)]] == FAMILIES
    assert [(s.family, s.index) for s in big[len(FAMILIES) : 2 * len(FAMILIES)]] == [(f, 1) for f in FAMILIES]
    assert all(json.loads(json.dumps(s.params)) == s.params for s in big)  # 01 saves them as JSON
    # deterministic across calls, and object k of a family never depends on how many are drawn
    again = procedural.catalogue(1000)
    assert [(s.name, _params(s)) for s in again] == [(s.name, _params(s)) for s in big]
    assert procedural.catalogue(100) == big[:100]
    assert procedural.catalogue(7, families=["mug"]) == [s for s in big if s.family == "mug"][:7]
    assert procedural.by_name("mug_0031") == next(s for s in big if s.name == "mug_0031")


def test_another_catalogue_seed_draws_other_solids_under_other_names():
    zero, three = procedural.catalogue(200), procedural.catalogue(200, seed=3)
    assert all(b.name == f"{a.family}_s3_{a.index:04d}" for a, b in zip(zero, three))
    assert not {s.name for s in zero} & {s.name for s in three}
    assert all(_params(a) != _params(b) for a, b in zip(zero, three))
    assert procedural.by_name("torus_s3_0007") == next(s for s in three if s.name == "torus_s3_0007")
    for bad in ("torus_s0_0007", "torus_7", "no_such_0001", "torus_s-1_0001"):
        with pytest.raises(KeyError):
            procedural.by_name(bad)


def test_families_restrict_the_catalogue_in_their_order():
    got = procedural.catalogue(7, families=["torus", "box"])
    assert [s.name for s in got] == [f"{f}_{i:04d}" for i in range(4) for f in ("torus", "box")][:7]
    with pytest.raises(KeyError):
        procedural.catalogue(3, families=["torus", "teapot"])


# --- the splits -----------------------------------------------------------------------------------------


def listed(n, catalogue_seed=0, families=()):
    """01's records of the first n catalogue objects, all fetched."""
    return [
        RunObject(s.name, "procedural", s.family, genus=s.genus, family=s.family, index=s.index)
        for s in procedural.catalogue(n, catalogue_seed, list(families))
    ]


def cfg_of(*overrides):
    return make_cfg("data.families=[]", *overrides)


def splits(objects, cfg):
    return {o.id: split_of(o, cfg) for o in objects}


@pytest.mark.parametrize("n", [100, 37, 1000])
def test_in_family_holds_out_only_objects_whose_family_has_two_training_objects(n):
    cfg = cfg_of("data.split=in_family", "data.test_fraction=0.2")
    objects = listed(n)
    got = splits(objects, cfg)
    for o in objects:
        if got[o.id] == Subset.test:
            train = [p for p in objects if p.family == o.family and got[p.id] == Subset.train]
            assert len(train) >= 2, o.id
    tests = sum(s == Subset.test for s in got.values())
    if n == 100:  # 5 of each of the 20 families: exactly one of every 5 held out
        assert len(FAMILIES) == 20 and tests == 20
    if n == 1000:
        assert tests == 200
    if n == 37:  # 1 or 2 objects per family: objects 0 and 1 always train
        assert tests == 0


def test_in_family_needs_a_block_of_at_least_three():
    with pytest.raises(ValueError, match="at least 3"):
        split_of(listed(1)[0], cfg_of("data.split=in_family", "data.test_fraction=0.5"))


def test_ood_holds_out_whole_families():
    cfg = cfg_of("data.split=ood", "data.test_fraction=0.2")
    objects = listed(200)
    got = splits(objects, cfg)
    by_family = {f: {got[o.id] for o in objects if o.family == f} for f in FAMILIES}
    assert all(len(s) == 1 for s in by_family.values()), by_family
    held = [f for f, s in by_family.items() if s == {"test"}]
    assert 0 < len(held) < len(FAMILIES)
    # with data.test_genus, those genera instead (what the ood experiment sets)
    genus = splits(objects, cfg_of("data.split=ood", "data.test_genus=[2]"))
    assert all((genus[o.id] == Subset.test) == (o.genus == 2) for o in objects)


@pytest.mark.parametrize("split", ["in_family", "ood", "random"])
def test_a_split_moves_for_neither_a_failed_object_nor_the_training_seed(split):
    objects = listed(100)
    cfg = cfg_of(f"data.split={split}", "data.test_fraction=0.2")
    whole = splits(objects, cfg)
    assert set(whole.values()) == set(Subset)
    # one object fails to load: it joins no split, nobody else moves
    listed_again = [dataclasses.replace(o, status="failed") if i == 41 else o for i, o in enumerate(objects)]
    listed_again = assign_split(listed_again, cfg, logging.getLogger("test"))
    assert {o.id: o.split for o in listed_again} == {**whole, objects[41].id: None}
    # another training seed keeps the objects and the split; another catalogue seed changes the objects
    assert splits(objects, cfg_of(f"data.split={split}", "data.test_fraction=0.2", "seed=1")) == whole
    assert not {o.id for o in listed(100, catalogue_seed=1)} & set(whole)


def test_a_source_without_families_falls_back_to_a_random_split(caplog):
    objects = [RunObject(f"mesh{i}", "local", f"mesh{i}.obj") for i in range(40)]
    random = splits(objects, cfg_of("data.split=random", "data.test_fraction=0.5"))
    with caplog.at_level(logging.WARNING):
        in_family = cfg_of("data.split=in_family", "data.test_fraction=0.5")
        objects = assign_split(objects, in_family, logging.getLogger("t"))
    assert {o.id: o.split for o in objects} == random
    assert "split at random" in caplog.text


def test_presets_hold_out_what_their_comments_say():
    def counts(cfg):
        objects = listed(cfg.data.num_objects, cfg.data.catalogue_seed, cfg.data.families)
        got = splits(objects, cfg)
        families = {o.family for o in objects if got[o.id] == Subset.test}
        return sum(s == Subset.train for s in got.values()), sum(s == Subset.test for s in got.values()), families

    train, test, families = counts(make_cfg("preset=default"))
    assert (train, test) == (9, 3) and len(families) == 3
    for preset in ("cpu100", "n100"):
        train, test, families = counts(make_cfg(f"preset={preset}"))
        assert (train, test) == (80, 20) and len(families) == 20
    cfg = make_cfg("preset=cpu400")  # the learning curve's 320: 16 training and 4 test objects of every family
    objects = listed(cfg.data.num_objects, cfg.data.catalogue_seed, cfg.data.families)
    got = splits(objects, cfg)
    per_family = {f: [got[o.id] for o in objects if o.family == f] for f in {o.family for o in objects}}
    assert len(per_family) == 20 and len({o.id for o in objects}) == 400
    assert all((s.count(Subset.train), s.count(Subset.test)) == (16, 4) for s in per_family.values())
    train, test, _ = counts(make_cfg("preset=tiny"))
    assert train >= 2 and test >= 1


def test_02_ignores_the_fields_that_only_choose_objects():
    base = object_config(make_cfg(), "02_watertight")
    for override in ("data.split=ood", "data.catalogue_seed=4", "data.families=[torus]", "data.test_fraction=0.1"):
        assert object_config(make_cfg(override), "02_watertight") == base, override


def test_01_records_family_index_and_split(tmp_path):
    cfg = make_cfg("preset=default", f"data_dir={tmp_path}", "data.num_objects=9", "data.test_fraction=0.34")
    run_stage("01_download", cfg)
    p = paths_of(cfg)
    objects = load_objects(p.objects)
    assert [(o.id, o.family, o.index) for o in objects] == [
        (s.name, s.family, s.index) for s in procedural.catalogue(9, families=["box", "torus", "chair"])
    ]
    # K = round(1 / 0.34) = 3: the offset can only be 2, so object 2 of each family is held out
    assert [o.id for o in objects if o.split == Subset.test] == ["box_0002", "torus_0002", "chair_0002"]
    log = p.log("01_download").read_text()
    assert "train: 6 objects, families box, chair, torus" in log and "test: 3 objects, families" in log
