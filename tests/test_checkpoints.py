"""Networks are rebuilt from the config their checkpoint carries; a checkpoint whose architecture differs
from the live config is a clear error naming both values and the script to rerun."""

import pytest
import torch

from hypershape.config import section
from hypershape.nets.checkpoint import CheckpointMismatch
from hypershape.nets.hypernet import HyperNet
from hypershape.nets.mapper import Mapper, load_mapper
from hypershape.nets.weight_ae import WeightAE
from hypershape.runtime import failure_message, load_torch, save_torch
from hypershape.stages.common import image_spec, shape_spec


def saved(tmp_path, name, **ckpt):
    """A checkpoint as the stages write it, read back from disk."""
    save_torch(tmp_path / name, ckpt)
    return load_torch(tmp_path / name)


def mapper_ckpt(cfg, tmp_path):
    torch.manual_seed(0)
    c = cfg.mapper
    m = Mapper(c.sketch_dim, c.hidden, [8])
    ckpt = dict(state=m.state_dict(), route="latent", heads=None, out_sizes=[8], config=section(cfg, "mapper"))
    return m, saved(tmp_path, "mapper.pt", **ckpt)


def test_mapper_is_rebuilt_from_its_checkpoint(tiny_cfg, tmp_path):
    built = tiny_cfg()
    m, ckpt = mapper_ckpt(built, tmp_path)
    live = tiny_cfg("mapper.steps=7", "mapper.lr=0.5")  # training fields differ: the same network
    x = torch.randn(3, built.mapper.sketch_dim)
    with torch.no_grad():
        assert torch.equal(load_mapper(ckpt, live.mapper, "cpu")(x), m.eval()(x))


def test_mapper_of_another_width_is_a_clear_error(tiny_cfg, tmp_path):
    built = tiny_cfg()
    assert built.mapper.hidden == 32
    _, ckpt = mapper_ckpt(built, tmp_path)
    with pytest.raises(CheckpointMismatch) as e:
        load_mapper(ckpt, tiny_cfg("mapper.hidden=64").mapper, "cpu")
    # nets/ names the config section; what a user reads adds the script the stage table says makes it
    assert str(e.value) == "mapper.pt was built with mapper.hidden=32, the config says 64"
    assert failure_message(e.value) == (
        "mapper.pt was built with mapper.hidden=32, the config says 64: rerun 70_train_mapper.py"
    )


def test_weight_ae_is_rebuilt_from_its_checkpoint_and_checked(tiny_cfg, tmp_path):
    built = tiny_cfg()
    spec = shape_spec(built)
    torch.manual_seed(0)
    ae = WeightAE.of(built.weight_ae, spec, spec.init())
    ae.fit_standardiser(torch.randn(5, spec.numel))
    ckpt = saved(tmp_path, "weight_ae.pt", state=ae.state_dict(), spec=spec, config=section(built, "weight_ae"))
    z = torch.randn(2, built.weight_ae.latent)
    with torch.no_grad():
        again = WeightAE.load(ckpt, tiny_cfg("weight_ae.steps=3").weight_ae, ae.anchor)
        assert torch.equal(again.decode(z), ae.decode(z))
    with pytest.raises(CheckpointMismatch) as e:
        WeightAE.load(ckpt, tiny_cfg("weight_ae.latent=16").weight_ae, ae.anchor)
    assert failure_message(e.value) == (
        "weight_ae.pt was built with weight_ae.latent=8, the config says 16: rerun 60_train_weight_ae.py"
    )


def test_hypernet_heads_mismatch_and_missing_config(tiny_cfg, tmp_path):
    built = tiny_cfg()
    spec = image_spec(built)
    net = HyperNet.of(built.hypernet, spec, spec.init())
    ckpt = saved(tmp_path, "anchor.pt", state=net.state_dict(), config=section(built, "hypernet"))
    with pytest.raises(CheckpointMismatch) as e:
        HyperNet.load(ckpt, tiny_cfg("hypernet=monolithic").hypernet, spec, net.base, "anchor.pt")
    assert failure_message(e.value) == (
        "anchor.pt was built with hypernet.heads=per_layer, the config says monolithic: rerun 50_train_hypernets.py"
    )
    with pytest.raises(CheckpointMismatch) as e:
        HyperNet.load(dict(state=net.state_dict()), built.hypernet, spec, net.base, "anchor.pt")
    assert failure_message(e.value) == "anchor.pt carries no config (made by older code): rerun 50_train_hypernets.py"


def test_a_saved_slice_of_a_batch_does_not_carry_the_batch(tmp_path):
    """torch.save writes a view's whole storage: save_torch copies views out, so one object's SIREN saved
    from a batch of eight is the size of one."""
    batch = torch.randn(8, 10_000)
    one, eight = tmp_path / "one.pt", tmp_path / "eight.pt"
    save_torch(one, dict(flat=batch[3]))
    save_torch(eight, dict(flat=batch))
    assert one.stat().st_size < eight.stat().st_size / 6
    assert torch.equal(torch.load(one)["flat"], batch[3])
