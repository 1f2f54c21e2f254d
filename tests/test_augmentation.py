"""hypernet.copies: more hypernetworks per object, fitted from their own seeds, as more training examples
for the learned mappers; the first copy is the hypernetwork a run without copies makes."""

import pytest
import torch

from hypershape.paths import paths_of
from hypershape.runtime import Manifest, load_json, load_torch

pytestmark = pytest.mark.slow


@pytest.fixture
def runs(tiny_run, copies_run):
    """The shared tiny run, and its branch with two hypernetworks per object (route latent)."""
    return tiny_run[0], copies_run


def test_each_object_gets_another_hypernetwork_and_the_first_is_unchanged(runs):
    one, two = runs
    a, b = paths_of(one), paths_of(two)
    for o in load_json(b.objects):
        i = o["id"]
        first, other = load_torch(b.hypernet(i))["state"], load_torch(b.hypernet(i, 1))["state"]
        assert not b.hypernet(i, 2).exists() and not a.hypernet(i, 1).exists()
        for k, v in load_torch(a.hypernet(i))["state"].items():
            assert torch.equal(first[k], v), (i, k)  # copy 0 draws its pixels as a run without copies does
        assert any(not torch.equal(first[k], other[k]) for k in first if k != "base"), i  # its own seed
        rec = Manifest(b.manifest("50_hypernets"), b.root).get(i)
        assert abs(rec["psnr_mean_copy1"] - rec["psnr_mean"]) < 1.0, (i, rec)  # it fits the views as well


def test_the_mapper_learns_from_every_copy_of_the_training_objects(runs):
    one, two = runs
    made = {}
    for cfg in (one, two):
        p = paths_of(cfg)
        made[cfg.name] = load_json(p.manifest("70_mapper") / "shared" / "mapper.json")
    n = len(load_torch(paths_of(one).mapper)["train_ids"])
    assert made[one.name]["examples"] == n
    assert made[two.name]["examples"] == 2 * n
