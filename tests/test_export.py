"""Checkpoints load with torch.load(weights_only=True), and export.py's HDF5 shards rebuild the fitted
SIRENs exactly: in hypershape's plain nn.Sequential loader and from h5py and torch alone."""

import json
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
import torch
from conftest import ROUTES, copy_run

import hypershape
from hypershape import routes
from hypershape.config import Route
from hypershape.experiments.common import variant
from hypershape.export import export_run
from hypershape.nets.shape_decoder import load_decoder
from hypershape.nets.siren import SirenSpec, siren_forward
from hypershape.objects import load_objects
from hypershape.paths import paths_of
from hypershape.runtime import load_torch


@pytest.fixture(scope="module")
def runs(made_route_runs, tmp_path_factory):
    """A copy (the exports are written into the run) of the shared run whose stages 70-90 every route made."""
    data = tmp_path_factory.mktemp("export")
    copy_run(made_route_runs["latent"], data)
    return {r: variant(cfg, data_dir=str(data)) for r, cfg in made_route_runs.items()}


@pytest.fixture(scope="module")
def copies(made_copies_run, tmp_path_factory):
    """A copy of the shared tiny run with two hypernetworks per object."""
    return copy_run(made_copies_run, tmp_path_factory.mktemp("export-copies"))


@pytest.mark.slow
def test_every_checkpoint_of_every_route_loads_with_weights_only(runs, copies):
    files = sorted(paths_of(runs["latent"]).root.rglob("*.pt")) + sorted(paths_of(copies).root.rglob("*.pt"))
    for route in ROUTES:  # each route wrote its own mapper and shape-SIRENs
        p = paths_of(runs[route])
        assert p.mapper.exists() and any(p.objects_dir("80_shape_sirens").glob("*.pt")), route
    assert any(".copy1." in f.name for f in files)
    for f in files:
        torch.load(f, weights_only=True)  # raises on anything but tensors and plain containers


@pytest.mark.slow
def test_a_mapper_checkpoint_stores_its_route_as_the_value_readers_turn_back_into_a_route(runs):
    ckpt = torch.load(paths_of(runs["direct"]).mapper, weights_only=True)
    assert ckpt["route"] == "direct" and Route(ckpt["route"]) == Route.direct


SIREN_ROUTES = [r for r in ROUTES if r != "decoder"]  # route decoder's field: a shared decoder at a latent


def exported(cfg) -> dict:
    files = export_run(cfg)
    route = cfg.mapper.route.value
    fields = "sirens" if route in SIREN_ROUTES else "latents"
    assert set(files) == {
        "image_sirens",
        "hypernets",
        "shape_sirens_target",
        f"shape_{fields}_{route}_predicted",
        f"shape_{fields}_{route}_refined",
    }
    return files


@pytest.mark.slow
@pytest.mark.parametrize("route", SIREN_ROUTES)
def test_exported_shape_sirens_give_the_packages_sdf_in_a_plain_sequential(runs, route):
    cfg = runs[route]
    p = paths_of(cfg)
    files = exported(cfg)
    objects = [o.id for o in load_objects(p.objects)]
    # float64: the layout and the conventions are compared, not float32 rounding orders
    points = torch.rand(4096, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    for kind, flat_of in (
        ("shape_sirens_target", lambda i: load_torch(p.target(i))["flat"]),
        (f"shape_sirens_{route}_predicted", lambda i: load_torch(p.shape_sirens(i))["predicted"]),
        (f"shape_sirens_{route}_refined", lambda i: load_torch(p.shape_sirens(i))["refined"]),
    ):
        with h5py.File(files[kind], "r") as f:
            assert list(f["ids"].asstr()[()]) == objects
            spec = SirenSpec(**{k: f.attrs[k] for k in ("in_dim", "out_dim", "w0")}, **layers(f.attrs))
        for row, obj in enumerate(objects):
            flat = flat_of(obj)
            net = hypershape.load_field(files[kind], obj if row % 2 else row)
            assert type(net) is torch.nn.Sequential
            theirs = siren_forward(spec, flat.double(), points)
            with torch.no_grad():
                mine = net.double()(points)
                single = net.float()(points.float())
            assert mine.shape == theirs.shape == (len(points), 1)
            assert (mine - theirs).abs().max() <= 1e-6, (kind, obj)
            # in float32 the two differ by rounding alone: siren_forward folds w0 into its product
            assert (single - theirs).abs().max() <= 1e-5, (kind, obj)
            assert theirs.std() > 1e-3  # a fitted field, not a constant: it changes across the cube


def layers(attrs) -> dict:
    hidden = [int(h) for h in attrs["hidden"]]
    assert len(set(hidden)) == 1
    return dict(hidden=hidden[0], sine_layers=len(hidden))


@pytest.mark.slow
def test_exported_image_sirens_and_hypernets_hold_every_view_and_copy(copies):
    cfg = copies
    p = paths_of(cfg)
    files = exported(cfg)
    objects = load_objects(p.objects)
    with h5py.File(files["image_sirens"], "r") as f:
        assert f["params"].shape == (24 * len(objects), SirenSpec.of(cfg.image_siren, 2, 3).numel)
        assert list(f["views"][:24]) == list(range(24))
        for k, o in enumerate(objects):
            rows = slice(24 * k, 24 * (k + 1))
            assert set(f["ids"].asstr()[rows]) == {o.id}
            assert np.array_equal(f["params"][rows], load_torch(p.image_sirens(o.id))["flat"].numpy())
            assert np.array_equal(f["directions"][rows], np.load(p.views(o.id))["directions"])
        assert list(f["genus"][::24]) == [o.genus for o in objects]
        assert list(f["families"].asstr()[::24]) == [o.family for o in objects]
    with h5py.File(files["hypernets"], "r") as f:
        assert list(f["copies"]) == [0, 1] * len(objects)
        config = json.loads(f["param_config"][()])
        for row, (o, copy) in enumerate((o, c) for o in objects for c in (0, 1)):
            state = load_torch(p.hypernet(o.id, copy))["state"]
            assert [name for name, _ in config] == list(state)
            assert np.array_equal(f["params"][row], torch.cat([t.reshape(-1) for t in state.values()]).numpy())
    with pytest.raises(ValueError, match="not fields"):
        hypershape.load_field(files["hypernets"], 0)


READ_WITH_H5PY_ALONE = textwrap.dedent(
    """
    import json, sys
    import h5py, numpy as np, torch

    path, row, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with h5py.File(path, "r") as f:
        a = f.attrs
        sizes = [int(a["in_dim"])] + [int(h) for h in a["hidden"]]
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers.append(torch.nn.Linear(fan_in, fan_out))
            layers.append(torch.nn.Identity())  # replaced by the sine below
        layers.append(torch.nn.Linear(sizes[-1], int(a["out_dim"])))
        net = torch.nn.Sequential(*layers).double()
        flat = torch.from_numpy(f["params"][row]).double()
        state, at = {}, 0
        for name, shape in json.loads(f["param_config"][()]):
            n = int(np.prod(shape))
            state[name] = flat[at : at + n].reshape(shape)
            at += n
        net.load_state_dict(state)
        w0 = float(a["w0"])
    x = torch.from_numpy(np.load(out + ".points.npy"))
    with torch.no_grad():
        for i, layer in enumerate(net):
            x = torch.sin(w0 * x) if isinstance(layer, torch.nn.Identity) else layer(x)
    np.save(out, x.numpy())
    """
)


@pytest.mark.slow
def test_an_export_is_read_with_h5py_and_torch_alone(runs, tmp_path):
    cfg = runs["latent"]
    files = exported(cfg)
    p = paths_of(cfg)
    obj = load_objects(p.objects)[1].id
    points = np.random.default_rng(0).uniform(-1, 1, (2048, 3))
    mine = read_alone(READ_WITH_H5PY_ALONE, files["shape_sirens_target"], 1, points, tmp_path)
    spec = SirenSpec.of(cfg.shape_siren, 3, 1)
    theirs = siren_forward(spec, load_torch(p.target(obj))["flat"].double(), torch.from_numpy(points)).numpy()
    assert np.abs(mine - theirs).max() <= 1e-6


def read_alone(script: str, path, row: int, points: np.ndarray, tmp_path) -> np.ndarray:
    """What `script` computes at points from row `row` of an exported file in a Python that has h5py, numpy
    and torch but nothing of this checkout."""
    out = tmp_path / "sdf"
    np.save(f"{out}.points.npy", points)
    run = subprocess.run(
        [sys.executable, "-c", script, str(path), str(row), str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},  # no PYTHONPATH: nothing of this checkout
    )
    assert run.returncode == 0, run.stderr
    return np.load(f"{out}.npy")


@pytest.mark.slow
def test_an_exported_decoder_run_gives_the_fields_the_route_meshed(runs):
    cfg = runs["decoder"]
    p = paths_of(cfg)
    files = exported(cfg)
    objects = load_objects(p.objects)
    field = routes.get("decoder").field(cfg, p, "cpu")  # what 80 refined and 90 meshed
    points = torch.rand(4096, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for which in ("predicted", "refined"):
        path = files[f"shape_latents_decoder_{which}"]
        with h5py.File(path, "r") as f:
            assert list(f["ids"].asstr()[()]) == [o.id for o in objects]
            assert list(f["splits"].asstr()[()]) == [o.split for o in objects]
            assert f["latents"].shape == (len(objects), cfg.decoder.latent)
        for row, o in enumerate(objects):
            latent = load_torch(p.shape_sirens(o.id))[which]
            net = hypershape.load_field(path, o.id if row % 2 else row)
            with torch.no_grad():
                mine = net(points)
            theirs = field.evaluate(latent, points)
            assert mine.shape == theirs.shape == (len(points), 1)
            assert (mine - theirs).abs().max() <= 1e-6, (which, o.id)
            assert theirs.std() > 1e-3  # a shape, not a constant


READ_DECODER_WITH_H5PY_ALONE = textwrap.dedent(
    """
    import json, sys
    import h5py, numpy as np, torch

    path, row, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with h5py.File(path, "r") as f:
        a = dict(f.attrs)
        flat = torch.from_numpy(f["decoder"][()]).double()
        w, at = {}, 0
        for name, shape in json.loads(f["param_config"][()]):
            n = int(np.prod(shape))
            w[name] = flat[at : at + n].reshape(shape)
            at += n
        z = torch.from_numpy(f["latents"][row]).double()
    x = torch.from_numpy(np.load(out + ".points.npy"))
    angles = (x[:, :, None] * (2.0 ** torch.arange(int(a["frequencies"]))) * np.pi).flatten(1)
    u = torch.cat([z.expand(len(x), -1), x, angles.sin(), angles.cos()], 1)
    h = u
    for i in range(int(a["layers"])):
        if i == int(a["skip"]) and i > 0:
            h = torch.cat([h, u], 1)
        h = torch.nn.functional.softplus(h @ w[f"hidden_layers.{i}.weight"].T + w[f"hidden_layers.{i}.bias"],
                                         beta=float(a["softplus_beta"]))
    np.save(out, (h @ w["out.weight"].T + w["out.bias"]).numpy())
    """
)


@pytest.mark.slow
def test_an_exported_decoder_is_read_with_h5py_and_torch_alone(runs, tmp_path):
    cfg = runs["decoder"]
    p = paths_of(cfg)
    path = exported(cfg)["shape_latents_decoder_refined"]
    obj = load_objects(p.objects)[1].id
    points = np.random.default_rng(0).uniform(-1, 1, (2048, 3))
    mine = read_alone(READ_DECODER_WITH_H5PY_ALONE, path, 1, points, tmp_path)
    saved = load_torch(p.shape_sirens(obj))
    decoder = load_decoder(saved["decoder"]).double()
    with torch.no_grad():
        theirs = decoder(saved["refined"].double(), torch.from_numpy(points)).numpy()
    assert np.abs(mine[:, 0] - theirs).max() <= 1e-6


def test_load_field_is_there_without_making_import_hypershape_heavy():
    """status and the records tools import hypershape: that must not load torch or h5py."""
    code = (
        "import sys, hypershape, hypershape.records\n"
        "assert not {'torch', 'h5py'} & set(sys.modules), 'imported at once'\n"
        "from hypershape import load_field\n"
        "assert load_field.__module__ == 'hypershape.export'"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
