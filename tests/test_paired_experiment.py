"""experiment=paired on runs whose 90 summaries are written here with known per-object scores: the paired
change is the median of per-object differences, not the difference of medians, and runs that do not pair
are refused in one line."""

import pytest
from conftest import make_cfg

from hypershape.errors import UserError
from hypershape.experiments import run_experiment
from hypershape.paths import Paths, paths_of
from hypershape.runtime import load_json, save_json

IDS = ["a", "b", "c", "d", "e"]


def write_run(data_dir, name: str, fscores: list[float], ids=IDS, split="test", route="decoder") -> None:
    """A run of `route` whose 90 scored `ids` with these F@0.02 (predicted; refined 0.1 higher; targets 1)."""
    rows = [
        {
            "id": oid,
            "split": split,
            "kind": kind,
            "fscore_0.02": v,
            "fscore_0.01": v / 2,
            "chamfer_l1": 1 - v,
            "genus_match": v > 0.25,
        }
        for oid, f in zip(ids, fscores)
        for kind, v in (("predicted", f), ("refined", f + 0.1), ("target", 1.0))
    ]
    save_json(Paths(data_dir, name, route=route).summary_json, dict(rows=rows))


def cfg_of(tmp_path, *overrides):
    return make_cfg(
        "preset=tiny", f"data_dir={tmp_path}", "name=base0", "mapper=decoder", "experiment=paired", *overrides
    )


def test_paired_change_is_the_median_of_differences(tmp_path):
    base = [0.1, 0.2, 0.3, 0.4, 0.5]
    write_run(tmp_path, "base0", base)
    # the same scores moved one object over: equal medians, but four of five objects lose 0.1
    write_run(tmp_path, "rotated0", [0.5, 0.1, 0.2, 0.3, 0.4])
    write_run(tmp_path, "base1", base)
    write_run(tmp_path, "rotated1", [0.6, 0.3, 0.4, 0.5, 0.6])  # every object up: a, by 0.5; b-e, by 0.1
    cfg = cfg_of(
        tmp_path,
        "experiment.paired.base_runs=[base0,base1]",
        "experiment.paired.runs=[[rotated0,rotated1]]",
        "experiment.paired.labels=[rotated]",
    )
    run_experiment(cfg)
    table = load_json(paths_of(cfg).experiment("paired") / "table.json")
    row = {(r["runs"], r["kind"]): r for r in table["rows"]}
    pred = row["rotated", "predicted"]
    assert pred["F@0.02"] == "0.4 ± 0.14"  # medians 0.3 and 0.5
    assert pred["paired change"] == "+0.000 ± 0.14"  # per pair: -0.1 and +0.1
    assert (pred["up"], pred["down"]) == (1 + 5, 4 + 0)
    assert row["rotated", "refined"]["paired change"] == pred["paired change"]  # refined is predicted + 0.1
    assert row["base", "predicted"]["F@0.02"] == "0.3 ± 0"
    assert "paired change" not in row["base", "predicted"]
    assert ("rotated", "target") not in row  # 60's target is the same in every run of a route


def test_two_routes_of_the_same_run_pair(tmp_path):
    write_run(tmp_path, "base0", [0.1, 0.2, 0.3, 0.4, 0.5])
    write_run(tmp_path, "base0", [0.3, 0.2, 0.3, 0.6, 0.5], route="probe")  # a and d up by 0.2, the rest equal
    cfg = cfg_of(tmp_path, "experiment.paired.runs=[[base0]]", "experiment.paired.routes=[probe]")
    run_experiment(cfg)
    row = {(r["runs"], r["kind"]): r for r in load_json(paths_of(cfg).experiment("paired") / "table.json")["rows"]}
    pred = row["base0", "predicted"]
    assert (pred["paired change"], pred["up"], pred["down"]) == ("+0.000", 2, 0)
    with pytest.raises(UserError, match="one route per entry"):
        run_experiment(cfg_of(tmp_path, "experiment.paired.runs=[[base0],[base0]]", "experiment.paired.routes=[probe]"))


def test_runs_that_do_not_pair_are_refused(tmp_path):
    write_run(tmp_path, "base0", [0.1, 0.2, 0.3, 0.4, 0.5])
    write_run(tmp_path, "fewer", [0.1, 0.2, 0.3, 0.4], ids=IDS[:4])
    write_run(tmp_path, "train_only", [0.1] * 5, split="train")
    with pytest.raises(UserError, match="scored different objects"):
        run_experiment(cfg_of(tmp_path, "experiment.paired.runs=[[fewer]]"))
    with pytest.raises(UserError, match="run train_only scored no test object"):
        run_experiment(cfg_of(tmp_path, "experiment.paired.runs=[[train_only]]"))
    with pytest.raises(UserError, match="run missing has no"):
        run_experiment(cfg_of(tmp_path, "experiment.paired.runs=[[missing]]"))
    with pytest.raises(UserError, match="names 2 runs for 1 base runs"):
        run_experiment(cfg_of(tmp_path, "experiment.paired.runs=[[fewer,fewer]]"))
    with pytest.raises(UserError, match="one label per entry"):
        run_experiment(cfg_of(tmp_path, "experiment.paired.runs=[[fewer]]", "experiment.paired.labels=[a,b]"))
    with pytest.raises(UserError, match="runs is empty"):
        run_experiment(cfg_of(tmp_path))
