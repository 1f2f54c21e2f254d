"""40's pixel chunks (image_siren.pixel_chunk): a step accumulates the gradient over chunks of pixels, so it is
the step of the whole image (up to float summation order) while holding one chunk's activations."""

import torch

from hypershape.memory import SavedTensors
from hypershape.nets.siren import SirenSpec, pixel_grid
from hypershape.stages.image_sirens import fit_images

SPEC = SirenSpec(2, 16, 2, 3)  # the tiny preset's image-SIREN
RES = 16


def images(n=3):
    """Smooth colour images [n, RES*RES, 3] in [0, 1], one pattern per image."""
    xy = pixel_grid(RES)
    k = torch.arange(1, n + 1, dtype=torch.float32)[:, None, None]
    return 0.5 + 0.4 * torch.sin(k * xy.sum(-1, keepdim=True) * torch.tensor([1.0, 2.0, 3.0]))


def fit(pixel_chunk, steps=20):
    start = SPEC.init(torch.Generator().manual_seed(0))
    return fit_images(SPEC, start, images(), pixel_grid(RES), steps, 1e-3, 3, "test", pixel_chunk)


def test_chunked_fit_is_the_unchunked_fit():
    full, full_curves = fit(0)
    start = SPEC.init(torch.Generator().manual_seed(0))
    moved = (full - start).norm()
    assert moved > 1e-3  # the fit did move the weights
    for chunk in (100, 64, RES * RES):  # uneven last chunk, even chunks, one chunk of everything
        flats, curves = fit(chunk)
        assert ((flats - full).norm() / moved) < 1e-5
        # each image's own loss curve, its chunks summed per step
        assert torch.allclose(torch.tensor(curves), torch.tensor(full_curves), rtol=1e-5)


def test_chunks_hold_fewer_saved_activations():
    peaks = {}
    for chunk in (0, 64):
        with SavedTensors() as saved:
            fit(chunk, steps=1)
        assert saved.live == 0  # everything saved was released after backward
        peaks[chunk] = saved.peak
    # 4 chunks of the 256 pixels: a quarter of the activations (plus the weights saved either way)
    assert peaks[64] < 0.3 * peaks[0]
