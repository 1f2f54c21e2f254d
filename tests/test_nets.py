import math

import pytest
import torch
from conftest import make_cfg

from hypershape.config import Heads
from hypershape.nets.heads import num_params
from hypershape.nets.hypernet import HyperNet
from hypershape.nets.mapper import Mapper, count_sketch
from hypershape.nets.siren import Siren, SirenSpec, siren_eval, siren_forward
from hypershape.nets.weight_ae import WeightAE
from hypershape.stages.common import image_spec, shape_spec


def test_siren_init_bounds():
    spec = SirenSpec(3, 64, 4, 1, w0=30.0)
    params = spec.unflatten(spec.init(torch.Generator().manual_seed(0)))
    for i, (fi, _) in enumerate(spec.dims):
        w = params[2 * i]
        bound = 1.0 / fi if i == 0 else math.sqrt(6.0 / fi) / 30.0
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.9 * bound  # uniform over the whole range, not a narrower one
        assert params[2 * i + 1].abs().max() <= 1 / math.sqrt(fi)


@pytest.mark.parametrize("chunk", [None, 1000, 4096, 5000])
def test_siren_eval_in_chunks_is_the_whole_forward(chunk):
    # 4,097 points: the last chunk is a ragged one (or a single point) and must not be dropped or repeated
    spec = SirenSpec(3, 32, 3, 1)
    flat = spec.init(torch.Generator().manual_seed(0)).requires_grad_()
    x = torch.rand(4097, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1
    got = siren_eval(spec, flat, x, chunk)
    assert got.shape == (4097, 1) and not got.requires_grad
    assert torch.allclose(got, siren_forward(spec, flat, x), atol=1e-6)


def test_siren_activations_keep_their_spread_through_depth():
    spec = SirenSpec(2, 256, 5, 1)
    x = torch.rand(4096, 2) * 2 - 1
    h, params = x, spec.unflatten(spec.init(torch.Generator().manual_seed(0)))
    for i in range(spec.sine_layers):
        h = torch.sin(30 * (h @ params[2 * i].T + params[2 * i + 1]))
        assert 0.5 < h.std() < 0.9  # arcsine distribution has std 1/sqrt(2)


def test_functional_forward_equals_module_forward_and_batches():
    spec = SirenSpec(3, 32, 3, 2)
    mods = [Siren(spec, spec.init(torch.Generator().manual_seed(s))) for s in range(3)]
    x = torch.randn(3, 50, 3)
    flat = torch.stack([m.flat() for m in mods])
    out = siren_forward(spec, flat, x)
    for b, m in enumerate(mods):
        assert torch.allclose(out[b], m(x[b]), atol=1e-6)
    assert torch.allclose(siren_forward(spec, flat[0], x[0]), mods[0](x[0]), atol=1e-6)


def test_flatten_unflatten_round_trip():
    spec = SirenSpec(2, 16, 3, 3)
    flat = torch.randn(spec.numel)
    m = Siren(spec, flat)
    assert torch.equal(m.flat(), flat)
    parts = spec.unflatten(flat)
    assert [tuple(p.shape) for p in parts] == [s for _, s in spec.shapes]
    assert torch.equal(torch.cat([p.reshape(-1) for p in parts]), flat)
    assert [tuple(p.shape) for p in m.parameters()] == [s for _, s in spec.shapes]


@pytest.mark.parametrize("heads", list(Heads))
def test_hypernet_emits_exactly_the_siren_parameter_shapes(heads):
    spec = SirenSpec(2, 16, 3, 3)
    base = spec.init()
    net = HyperNet(spec, 32, heads, base, last_scale=0.01)
    dirs = torch.nn.functional.normalize(torch.randn(24, 3), dim=-1)
    out = net(dirs)
    assert out.shape == (24, spec.numel)
    assert [tuple(p.shape[1:]) for p in spec.unflatten(out)] == [s for _, s in spec.shapes]
    assert (out - base).abs().max() < 0.05 * base.abs().max()  # starts near the anchor SIREN
    assert len(net.heads.heads) == (len(spec.shapes) if heads == Heads.per_layer else 1)


def test_n100_models_have_the_source_parameter_counts():
    cfg = make_cfg("preset=n100")
    img, shp = image_spec(cfg), shape_spec(cfg)
    assert img.numel == 66_819
    assert shp.numel == 264_449
    assert len(img.shapes) == 12
    hyper = HyperNet.of(cfg.hypernet, img, torch.zeros(img.numel))
    assert num_params(hyper) == 17_974_275  # ≈ 17.97 M
    ae = WeightAE.of(cfg.weight_ae, shp, torch.zeros(shp.numel))
    assert ae.encode(torch.zeros(2, shp.numel)).shape == (2, 128)
    assert cfg.data.num_objects == 100 and cfg.render.resolution == 256


def test_count_sketch_is_linear_seeded_and_preserves_inner_products():
    x = torch.randn(4, 300_000, dtype=torch.float64)
    a, b = count_sketch(x, 2048, 7), count_sketch(x, 2048, 7)
    assert torch.equal(a, b)
    assert torch.allclose(count_sketch(2 * x[:1] + x[1:2], 2048, 7), 2 * a[:1] + a[1:2])
    norms = x.norm(dim=1)
    assert torch.allclose(a.norm(dim=1), norms, rtol=0.1)
    assert not torch.equal(count_sketch(x, 2048, 8), a)


def test_mapper_and_autoencoder_shapes():
    spec = SirenSpec(3, 16, 2, 1)
    m = Mapper(64, 32, spec.sizes, Heads.per_layer)
    assert m(torch.randn(5, 64)).shape == (5, spec.numel)
    ae = WeightAE(spec, spec.init(), 8, 32, Heads.monolithic)
    w = torch.randn(6, spec.numel)
    ae.fit_standardiser(w)
    assert ae.decode(ae.encode(w)).shape == w.shape
