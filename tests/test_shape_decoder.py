"""The shared shape decoder with a latent per object (readout/autodecode.py), its probe readout
(readout/probe_encoder.py) and the test-time fit of a latent to the hypernetwork's outlines
(readout/view_fit.py). Auto-decoding runs on analytic SDF samples (spheres and a box); the readout and
the view fit on a tiny run's hypernetworks."""

import dataclasses

import pytest
import torch
from conftest import make_cfg
from omegaconf import OmegaConf

from hypershape.config import DecoderConfig, readout_seed
from hypershape.objects import load_objects
from hypershape.paths import paths_of
from hypershape.pipeline import run_all
from hypershape.readout.autodecode import autodecode, clamped_l1, fit_latent, midpoint_volumes, uniform_points
from hypershape.readout.probe import Prober
from hypershape.readout.probe_encoder import emitted_sirens, train_readout
from hypershape.readout.view_fit import drawn_rays, refine_latent, silhouette_iou
from hypershape.routes.base import DecoderField
from hypershape.runtime import generator
from hypershape.stages.common import image_spec, load_samples, readout_train

SMALL = DecoderConfig(
    latent=8, hidden=32, layers=2, frequencies=0, steps=300, points=512, lr=3e-3, latent_lr=3e-3, fit_steps=200
)


def sphere(radius: float, n: int = 3000, seed: int = 0):
    x = torch.rand(n, 3, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return x, x.norm(dim=-1) - radius


def box(half: float, n: int = 3000, seed: int = 0):
    x = torch.rand(n, 3, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    q = x.abs() - half
    return x, q.clamp_min(0).norm(dim=-1) + q.max(-1).values.clamp_max(0)


SHAPES = dict(small=sphere(0.3), large=sphere(0.7, seed=1), cube=box(0.4, seed=2))
IDS = list(SHAPES)


def decoded_loss(decoder, codes) -> float:
    x = torch.stack([SHAPES[i][0] for i in IDS])
    y = torch.stack([SHAPES[i][1] for i in IDS])
    with torch.no_grad():
        return float(clamped_l1(decoder(codes, x), y, SMALL.clamp).mean())


@pytest.fixture(scope="module")
def decoded():
    return autodecode([SHAPES[i] for i in IDS], IDS, SMALL, 0, "cpu")


def test_autodecoding_lowers_the_sdf_loss_on_the_training_samples(decoded):
    untrained = autodecode([SHAPES[i] for i in IDS], IDS, dataclasses.replace(SMALL, steps=0), 0, "cpu")
    before, after = decoded_loss(*untrained[:2]), decoded_loss(*decoded[:2])
    assert after < 0.3 * before, (before, after)


def test_the_prior_keeps_the_codes_small():
    data = [SHAPES[i] for i in IDS]
    free = autodecode(data, IDS, dataclasses.replace(SMALL, prior_weight=0.0), 0, "cpu")[1]
    held = autodecode(data, IDS, dataclasses.replace(SMALL, prior_weight=0.1), 0, "cpu")[1]
    assert held.norm(dim=-1).mean() < 0.5 * free.norm(dim=-1).mean()


def test_a_latent_fitted_with_the_frozen_decoder_reproduces_its_objects_field(decoded):
    decoder, codes, _ = decoded
    x, y = SHAPES["large"]
    z = fit_latent(decoder, x, y, SMALL, generator(0, "test-fit"))[0]
    with torch.no_grad():  # compared where the loss fits them: clamped, beyond it only the sign counts
        own = decoder(codes[IDS.index("large")], x)
        fitted = clamped_l1(decoder(z, x), own, SMALL.clamp)
        others = [clamped_l1(decoder(codes[IDS.index(k)], x), own, SMALL.clamp) for k in IDS if k != "large"]
    assert fitted < min(others), (float(fitted), [float(o) for o in others])


def test_the_midpoint_of_two_spheres_latents_is_a_shape_between_them(decoded):
    decoder, codes, _ = decoded
    (mid,) = midpoint_volumes(decoder, codes, [(IDS.index("small"), IDS.index("large"))], uniform_points(20000, 1, 0))
    assert mid["volume_a"] < mid["volume_mid"] < mid["volume_b"], mid


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny run up to the hypernetworks, every object a training object (more examples for the readout)."""
    cfg = make_cfg("preset=tiny", f"data_dir={tmp_path_factory.mktemp('decoder')}", "data.test_fraction=0")
    run_all(cfg, until="50_train_hypernets")
    p = paths_of(cfg)
    ids = readout_train(cfg, load_objects(p.objects))
    data = [load_samples(p, i) for i in ids]
    decoder, codes, _ = autodecode(data, ids, cfg.decoder, readout_seed(cfg), "cpu")
    prober = Prober(cfg, p, image_spec(cfg), torch.device("cpu"))
    return cfg, ids, data, decoder, codes, prober


@pytest.mark.slow
def test_the_readout_maps_each_training_objects_probes_nearest_its_own_latent(tiny_run):
    cfg, ids, data, decoder, codes, prober = tiny_run
    assert len(ids) >= 3
    sirens = torch.stack([emitted_sirens(prober, i) for i in ids])
    c = OmegaConf.merge(cfg.decoder, dict(readout_steps=300))
    encoder, _ = train_readout(sirens, codes, decoder, data, ids, image_spec(cfg), c, 0)
    pred = encoder(sirens)
    distance = torch.cdist(pred, codes)
    assert (distance.argmin(1) == torch.arange(len(ids))).all(), distance


@pytest.mark.slow
def test_fitting_a_latent_to_the_views_never_lowers_their_agreement(tiny_run):
    cfg, ids, _, decoder, codes, prober = tiny_run
    r = OmegaConf.merge(cfg.shape_siren.refine, dict(eval_rays=2048))
    field = DecoderField(decoder, codes)
    kept = 0
    for k, i in enumerate(ids):
        rays = drawn_rays(prober, i, cfg.render, cfg.mapper.probe.threshold)
        start = codes[(k + 1) % len(ids)]  # another object's latent: room to improve
        z, info = refine_latent(field, start, rays, cfg.decoder, r, generator(0, "test-views", i))
        before, after = silhouette_iou(field, start, rays, r), silhouette_iou(field, z, rays, r)
        assert after >= before
        assert info["refine_accepted"] == (after > before) and info["view_iou_refined"] == after
        kept += info["refine_accepted"]
    assert kept > 0  # the fit does move latents towards the views somewhere


@pytest.mark.slow
def test_the_readouts_function_term_reads_a_bounded_batch_of_objects_per_step(tiny_run):
    """readout_batch_objects at or above the number of training objects changes nothing (every object, in
    order, no extra draw); below it, the frozen decoder sees exactly that many objects each step."""
    cfg, ids, data, decoder, codes, prober = tiny_run
    sirens = torch.stack([emitted_sirens(prober, i) for i in ids])
    spec, n = image_spec(cfg), len(ids)

    def trained(batch: int):
        seen = []
        hook = decoder.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
        try:
            c = OmegaConf.merge(cfg.decoder, dict(readout_steps=5, readout_batch_objects=batch))
            encoder, curve = train_readout(sirens, codes, decoder, data, ids, spec, c, 0)
        finally:
            hook.remove()
        return encoder.state_dict(), curve, seen

    every, every_curve, seen = trained(0)
    assert seen == [n] * 5
    same, same_curve, _ = trained(n)
    assert same_curve == every_curve and all(torch.equal(same[k], every[k]) for k in every)
    _, fewer_curve, seen = trained(n - 1)
    assert seen == [n - 1] * 5 and fewer_curve != every_curve
