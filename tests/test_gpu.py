"""The CUDA path: the tiny preset end to end on a GPU, in full fp32, with TF32, with torch.compile and with
bf16 autocast, against the same run on the CPU. Marked `gpu` and skipped where torch sees no CUDA device;
on a GPU machine `pytest -m gpu` runs them (a few minutes: five tiny runs).

Tolerances, per object, on what the pipeline reports: the image-SIRENs' mean PSNR (40) and the target
shape-SIREN's F@0.02 (90). Full fp32 on CUDA sums in another order than the CPU, so weights differ in the
last bits and training drifts a little: 0.5 dB and 0.05. TF32 rounds matmul inputs to 10 mantissa bits:
1.5 dB and 0.10. bf16 (8 bits) is too coarse for sin(30 x) (configs/device/cuda.yaml): only that it runs,
stays finite and keeps the targets' F@0.02 within 0.25."""

import numpy as np
import pytest
import torch
from conftest import make_cfg

from hypershape.geometry.metrics import fscore_key
from hypershape.objects import load_objects
from hypershape.paths import paths_of
from hypershape.pipeline import run_all
from hypershape.runtime import load_json

requires_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch sees none)")
pytestmark = [pytest.mark.gpu, pytest.mark.slow, requires_gpu]

F = fscore_key(0.02)
VARIANTS = {
    # name: (overrides, PSNR tolerance in dB or None, F@0.02 tolerance)
    "fp32": (["device=cuda", "device.tf32=false"], 0.5, 0.05),
    "tf32": (["device=cuda", "device.tf32=true"], 1.5, 0.10),
    "compile": (["device=cuda", "device.tf32=false", "device.compile=true"], 0.5, 0.05),
    "bf16": (["device=cuda", "device.tf32=false", "device.autocast=bf16"], None, 0.25),
}


def figures(cfg) -> dict:
    """Per object: the image-SIRENs' mean PSNR and the target's F@0.02."""
    p = paths_of(cfg)
    out = {}
    for o in load_objects(p.objects):
        psnr = float(torch.load(p.image_sirens(o.id), weights_only=False)["psnr"].mean())
        out[o.id] = dict(psnr=psnr)
    for r in load_json(p.summary_json)["rows"]:
        if r["kind"] == "target":
            out[r["id"]]["f"] = float(r[F])
    return out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("gpu")


@pytest.fixture(scope="module")
def cpu_run(data_dir):
    cfg = make_cfg("preset=tiny", f"data_dir={data_dir}", "name=cpu")
    results = run_all(cfg)
    assert all(r["failed"] == 0 for r in results.values()), results
    return figures(cfg)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_tiny_preset_on_cuda_matches_the_cpu(variant, cpu_run, data_dir):
    overrides, psnr_tol, f_tol = VARIANTS[variant]
    # branched from the CPU run: 01-03 are reused, 40-90 redone (the device's numerics are in their keys)
    cfg = make_cfg("preset=tiny", f"data_dir={data_dir}", f"name=cuda-{variant}", "branch_from=cpu", *overrides)
    results = run_all(cfg)
    assert all(r["failed"] == 0 for r in results.values()), results
    assert results["40_train_image_sirens"]["done"] == len(cpu_run)  # really made on the GPU, not linked
    got = figures(cfg)
    assert got.keys() == cpu_run.keys()
    for obj, ref in cpu_run.items():
        assert np.isfinite(got[obj]["psnr"]) and np.isfinite(got[obj]["f"])
        if psnr_tol is not None:
            assert abs(got[obj]["psnr"] - ref["psnr"]) < psnr_tol, (obj, got[obj], ref)
        assert abs(got[obj]["f"] - ref["f"]) < f_tol, (obj, got[obj], ref)


def test_chunked_image_sirens_on_cuda_match_unchunked():
    """40's pixel chunks on the GPU: the same step as all pixels at once, to float summation order."""
    from hypershape.nets.siren import SirenSpec, pixel_grid
    from hypershape.stages.image_sirens import fit_images

    torch.backends.cuda.matmul.allow_tf32 = False
    spec, dev = SirenSpec(2, 32, 3, 3), torch.device("cuda")
    start = spec.init(torch.Generator().manual_seed(0)).to(dev)
    coords = pixel_grid(32).to(dev)
    img = (0.5 + 0.4 * torch.sin(3 * coords.sum(-1, keepdim=True) * torch.tensor([1.0, 2.0, 3.0], device=dev)))[None]
    full, _ = fit_images(spec, start, img, coords, 20, 1e-3, 1, "gpu", 0)
    chunked, _ = fit_images(spec, start, img, coords, 20, 1e-3, 1, "gpu", 300)
    assert (chunked - full).norm() / (full - start).norm() < 1e-4
