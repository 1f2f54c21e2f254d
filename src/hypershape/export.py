"""Portable networks: a run's fitted networks as HDF5 shards that h5py and torch alone can read (the layout
of fit-a-nef / Neural Field Arena), and `load_field`, which rebuilds one of them as a plain nn.Sequential.

Files, under <data_dir>/<name>/export/ (Paths.export), one per kind of network:

    image_sirens.h5                       every object's view SIRENs (24 per object by default): pixel (x, y) -> RGB
    hypernets.h5                          every object's hypernetwork(s): view direction -> image-SIREN weights
    shape_sirens_target.h5                the target shape-SIRENs (60): point (x, y, z) -> signed distance
    shape_sirens_<route>_predicted.h5     the route's predicted shape-SIRENs (80)
    shape_sirens_<route>_refined.h5       the same after silhouette refinement (80)

Datasets of every file (N rows, P parameters per network):

    params        [N, P] float32  row i: network i's parameters, concatenated in param_config order
    param_config  JSON string     [[name, shape], ...]: the tensors of a row, in torch state_dict order
    ids           [N] str         object id
    splits        [N] str         "train" or "test"
    families      [N] str         the object's family ("" where the source gives none)
    genus         [N] int         the object's genus where the source knows it, else -1
    anchor        [1, P] float32  the shared network every row was fitted from (a warm start)

image_sirens.h5 also has `views` [N] int (the view's index, 0..23 with the default cameras) and `directions`
[N, 3] (the unit vector from the origin, the object's centre, to that view's camera: the hypernetwork's
input); hypernets.h5 has `copies` [N] int (0: the object's hypernetwork; k > 0: the k-th extra one fitted
with another seed, hypernet.copies).

A SIREN row is the state_dict of this nn.Sequential, with L = len(hidden) sine layers:

    Linear(in_dim, hidden[0]), Sine(w0), Linear(hidden[0], hidden[1]), Sine(w0), ..., Linear(hidden[-1], out_dim)

so param_config is [["0.weight", [hidden[0], in_dim]], ["0.bias", [hidden[0]]], ["2.weight", ...], ...,
[f"{2 L}.bias", [out_dim]]], and Sine(w0)(x) = sin(w0 * x). The same w0 multiplies every sine layer's
pre-activation, the first included; the weights are stored as fitted (w0 is not folded into them) and the
last layer is linear with no output scaling. The file's attributes say all of this (`architecture`,
`in_dim`, `out_dim`, `hidden`, `w0`, `activation`, `output_scale`, the initialisation, the coordinates);
`load_field` builds the network from them alone. Hypernetworks are not SIRENs: their rows are the
state_dicts of hypershape.nets.hypernet.HyperNet, described by param_config and the `config` attribute.

A route whose field is a shared shape decoder at a per-object latent (route decoder) writes, instead of its
two shape-SIREN files, shape_latents_<route>_predicted.h5 and shape_latents_<route>_refined.h5:

    latents       [N, L] float32  row i: object i's latent
    decoder       [P] float32     the shared decoder's parameters, concatenated in param_config order
    param_config  JSON string     [[name, shape], ...]: the tensors of `decoder` (ShapeDecoder's state_dict)
    ids, splits, families, genus  as above, one per latent

The decoder f(z, x) -> signed distance (hypershape.nets.shape_decoder.ShapeDecoder) is an MLP of `layers`
linear layers `hidden_layers.<i>` of width `hidden`, each followed by softplus with beta `softplus_beta`,
then the linear `out` to one value. Its input is u = [z, x, sin(x_j b_k), cos(x_j b_k)] with bands
b_k = 2^k pi for k < `frequencies` (the sines ordered by coordinate j, then band k; likewise the cosines);
layer `skip` (when > 0) reads [h, u] instead of h. The attributes say all of this; `load_field` rebuilds
the decoder at one row's latent as a module from points [n, 3] to [n, 1]."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

from .nets.shape_decoder import SOFTPLUS_BETA, ShapeDecoder, load_decoder
from .nets.siren import SirenSpec
from .objects import RunObject, load_objects
from .paths import Paths, paths_of
from .records import Manifest, atomic_write
from .runtime import load_torch

log = logging.getLogger("hypershape")

FORMAT = "hypershape-fields-1"
COORDINATES = {
    "image": "pixel centres in [-1, 1]^2 as (x, y), x to the right and y down the image rows; output RGB in "
    "[0, 1] on a black background (not clamped)",
    "shape": "the object's normalised frame (02_watertight/objects/<id>/topology.json `transform` maps the "
    "source mesh into it); the scored cube is [-reconstruct.bound, reconstruct.bound]^3; output the signed "
    "distance, negative inside",
}


class Sine(nn.Module):
    """sin(w0 * x): the activation after every layer of a SIREN but the last."""

    def __init__(self, w0: float):
        super().__init__()
        self.w0 = float(w0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * x)

    def extra_repr(self) -> str:
        return f"w0={self.w0:g}"


def sequential_siren(in_dim: int, hidden: list[int], out_dim: int, w0: float) -> nn.Sequential:
    """The nn.Sequential whose state_dict is a SIREN row of an export (see the module docstring)."""
    sizes = [in_dim, *hidden]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), Sine(w0)]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], out_dim))


def load_field(path: str | Path, index_or_id: int | str) -> nn.Module:
    """One field of an exported file (a row index, or an object id where the file has one row per object)
    as a plain torch module built from the file's attributes alone, mapping points [n, 3] to [n, 1]: a
    SIREN as nn.Sequential, or the shared shape decoder at one object's latent (a LatentField)."""
    with h5py.File(path, "r") as f:
        architecture = f.attrs.get("architecture")
        if architecture == "shape_decoder":
            return _latent_field(f, _row(f, index_or_id, path, "latents"), path)
        if architecture != "siren":
            raise ValueError(f"{path} holds {f.attrs.get('kind')}, not fields: read its rows with param_config")
        row = _row(f, index_or_id, path)
        net = sequential_siren(
            int(f.attrs["in_dim"]), [int(h) for h in f.attrs["hidden"]], int(f.attrs["out_dim"]), float(f.attrs["w0"])
        )
        net.load_state_dict(_state(net, f["param_config"], f["params"][row], path))
    return net.eval()


class LatentField(nn.Module):
    """A shared shape decoder at one object's latent: points [n, 3] -> signed distances [n, 1]."""

    def __init__(self, decoder: ShapeDecoder, latent: torch.Tensor):
        super().__init__()
        self.decoder = decoder
        self.register_buffer("latent", latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.latent, x)[:, None]


def _latent_field(f, row: int, path) -> LatentField:
    a = f.attrs
    decoder = ShapeDecoder(int(a["latent"]), int(a["hidden"]), int(a["layers"]), int(a["frequencies"]))
    if decoder.skip != int(a["skip"]) or SOFTPLUS_BETA != float(a["softplus_beta"]):
        raise ValueError(f"{path}: its decoder's skip or softplus differs from this hypershape's ShapeDecoder")
    decoder.load_state_dict(_state(decoder, f["param_config"], f["decoder"][()], path))
    return LatentField(decoder, torch.from_numpy(f["latents"][row])).eval()


def _state(net: nn.Module, param_config, flat: np.ndarray, path) -> dict:
    """net's state_dict from a flat row laid out as param_config says (checked against net's own)."""
    config = json.loads(param_config[()])
    if [[k, list(v.shape)] for k, v in net.state_dict().items()] != config:
        raise ValueError(f"{path}: param_config does not match the network its attributes describe")
    flat = torch.from_numpy(flat)
    offsets = np.cumsum([0] + [int(np.prod(shape)) for _, shape in config])
    return {name: flat[a:b].reshape(shape) for (name, shape), a, b in zip(config, offsets[:-1], offsets[1:])}


def _row(f, index_or_id: int | str, path, rows: str = "params") -> int:
    if isinstance(index_or_id, (int, np.integer)):
        if not 0 <= index_or_id < len(f[rows]):
            raise IndexError(f"{path} has {len(f[rows])} rows, not row {index_or_id}")
        return int(index_or_id)
    rows = np.flatnonzero(f["ids"].asstr()[()] == index_or_id)
    if len(rows) != 1:
        raise KeyError(f"{path} has {len(rows)} rows of object {index_or_id!r}: give a row index instead")
    return int(rows[0])


# ---------------------------------------------------------------- writing
def siren_config(spec: dict) -> list:
    """param_config of a SIREN given as its checkpoint's spec (SirenSpec's fields): the state_dict of
    sequential_siren, whose tensors are those of the package's flat vector, in the same order."""
    net = sequential_siren(spec["in_dim"], [spec["hidden"]] * spec["sine_layers"], spec["out_dim"], spec["w0"])
    config = [[name, list(t.shape)] for name, t in net.state_dict().items()]
    assert [tuple(shape) for _, shape in config] == [shape for _, shape in SirenSpec(**spec).shapes]
    return config


def siren_attrs(spec: dict, domain: str) -> dict:
    """The attributes that say how to evaluate a SIREN row (see the module docstring)."""
    w0 = float(spec["w0"])
    return dict(
        architecture="siren",
        in_dim=spec["in_dim"],
        out_dim=spec["out_dim"],
        hidden=[spec["hidden"]] * spec["sine_layers"],
        w0=w0,
        activation="sin(w0 * (W x + b)) after every linear layer but the last, the first included; the last "
        "layer is linear",
        first_layer_w0=w0,
        output_scale=1.0,
        first_layer_init="weight U(-1/fan_in, 1/fan_in)",
        hidden_init="weight U(-sqrt(6/fan_in)/w0, sqrt(6/fan_in)/w0)",
        bias_init="U(-1/sqrt(fan_in), 1/sqrt(fan_in))",
        coordinates=COORDINATES[domain],
    )


def write_shard(path: Path, params, config: list, objects: list[RunObject], anchor, attrs: dict, **extra) -> Path:
    """One HDF5 shard: params [N, P], param_config, the rows' objects, the anchor, `extra` datasets."""
    params = np.asarray(params, dtype=np.float32)
    if params.shape[1] != _numel(config):
        raise ValueError(f"{path.name}: {params.shape[1]} parameters per row, param_config has another count")
    anchor = np.asarray(anchor, dtype=np.float32).reshape(1, -1)
    return _write(path, objects, attrs, params=params, param_config=json.dumps(config), anchor=anchor, **extra)


def write_latent_shard(path: Path, latents, decoder: ShapeDecoder, objects: list[RunObject], kind: str) -> Path:
    """One HDF5 shard of a shared shape decoder: latents [N, L] (one per object), the decoder's flat
    parameters and their param_config, and the attributes that say how to evaluate it."""
    state = decoder.state_dict()
    config = [[name, list(t.shape)] for name, t in state.items()]
    flat = torch.cat([t.detach().reshape(-1).float().cpu() for t in state.values()]).numpy()
    attrs = dict(
        kind=kind,
        architecture="shape_decoder",
        **decoder.config(),
        skip=decoder.skip,
        softplus_beta=SOFTPLUS_BETA,
        input="u = [z, x, sin(x_j * 2^k pi), cos(x_j * 2^k pi)] for k < frequencies, ordered by j then k",
        activation="softplus(beta = softplus_beta) after every hidden layer; layer `skip` (> 0) reads [h, u]; "
        "the last layer (`out`) is linear",
        coordinates=COORDINATES["shape"],
    )
    latents = np.asarray(latents, dtype=np.float32)
    return _write(path, objects, attrs, latents=latents, decoder=flat, param_config=json.dumps(config))


def _numel(config: list) -> int:
    return sum(int(np.prod(s)) for _, s in config)


def _write(path: Path, objects: list[RunObject], attrs: dict, **datasets) -> Path:
    """An HDF5 file of `datasets` (a str is a JSON string), the rows' objects' ids, splits, families and
    genus, and `attrs` beside the format."""
    text = h5py.string_dtype()

    def write(p: Path):
        with h5py.File(p, "w", track_order=True) as f:
            for name, data in datasets.items():
                f.create_dataset(name, data=data, **(dict(dtype=text) if isinstance(data, str) else {}))
            f.create_dataset("ids", data=[o.id for o in objects], dtype=text)
            f.create_dataset("splits", data=[o.split for o in objects], dtype=text)
            f.create_dataset("families", data=[o.family or "" for o in objects], dtype=text)
            genus = [o.genus if isinstance(o.genus, int) else -1 for o in objects]
            f.create_dataset("genus", data=np.asarray(genus, dtype=np.int64))
            f.attrs.update(format=FORMAT, **attrs)

    return atomic_write(path, write)


def _done(p: Paths, stage: str, objects: list[RunObject]) -> list[RunObject]:
    """The objects `stage` made (its manifest says done), in objects.json order."""
    manifest = Manifest(p.manifest(stage), p.root)
    return [o for o in objects if manifest.is_done(o.id)]


def _siren_shard(path: Path, kind: str, domain: str, objects: list[RunObject], rows_of, anchor, **extra) -> Path | None:
    """A shard of SIRENs: rows_of(obj) -> (its rows [k, P], the SirenSpec fields they were fitted with)."""
    if not objects:
        return None
    spec, params, owners = None, [], []
    for o in objects:
        flat, its_spec = rows_of(o)
        if spec not in (None, its_spec):
            raise ValueError(f"{kind}: {o.id} was fitted with {its_spec}, other objects with {spec}")
        spec = its_spec
        params.append(flat.reshape(-1, flat.shape[-1]).numpy())
        owners += [o] * len(params[-1])
    attrs = dict(kind=kind, **siren_attrs(spec, domain))
    return write_shard(path, np.concatenate(params), siren_config(spec), owners, anchor, attrs, **extra)


def _rows(path_of, key: str):
    """rows_of for _siren_shard: the tensor `key` and the spec of the checkpoint at path_of(object id)."""

    def rows(o: dict):
        ckpt = load_torch(path_of(o.id))
        return ckpt[key], ckpt["spec"]

    return rows


def export_image_sirens(p: Paths, objects: list[RunObject]) -> Path | None:
    done = _done(p, "40_image_sirens", objects)
    if not done:
        return None
    views = [np.load(p.views(o.id))["directions"].astype(np.float32) for o in done]
    return _siren_shard(
        p.export("image_sirens"),
        "image_sirens",
        "image",
        done,
        _rows(p.image_sirens, "flat"),
        load_torch(p.image_anchor)["flat"],
        views=np.concatenate([np.arange(len(v)) for v in views]),
        directions=np.concatenate(views),
    )


def export_shape_sirens(p: Paths, objects: list[RunObject]) -> list[Path | None]:
    """The targets (60), and the route's predicted and refined shape-SIRENs (80)."""
    targets = _done(p, "60_weight_ae", objects)
    made = _done(p, "80_shape_sirens", objects)
    anchor = load_torch(p.shape_anchor)["flat"] if targets else None
    kind = "shape_sirens_target"
    out = [_siren_shard(p.export(kind), kind, "shape", targets, _rows(p.target, "flat"), anchor)]
    # a route whose 80 files hold a shared decoder (DecoderField.describe) predicts latents, not SIRENs
    latents = bool(made) and "decoder" in load_torch(p.shape_sirens(made[0].id))
    for which in ("predicted", "refined"):
        if latents:
            kind = f"shape_latents_{p.route}_{which}"
            out.append(_latent_shard(p.export(kind), kind, made, p.shape_sirens, which))
        else:
            kind = f"shape_sirens_{p.route}_{which}"
            out.append(_siren_shard(p.export(kind), kind, "shape", made, _rows(p.shape_sirens, which), anchor))
    return out


def _latent_shard(path: Path, kind: str, objects: list[RunObject], path_of, key: str) -> Path:
    """The latents `key` of the 80 files at path_of(object id) and the decoder they share."""
    latents, decoder = [], None
    for o in objects:
        ckpt = load_torch(path_of(o.id))
        if decoder is None:
            decoder = ckpt["decoder"]
        elif decoder["config"] != ckpt["decoder"]["config"] or any(
            not torch.equal(t, ckpt["decoder"]["state"][name]) for name, t in decoder["state"].items()
        ):
            raise ValueError(f"{kind}: {o['id']} was read with another decoder than the objects before it")
        latents.append(ckpt[key].reshape(-1).numpy())
    return write_latent_shard(path, np.stack(latents), load_decoder(decoder), objects, kind)


def export_hypernets(p: Paths, objects: list[RunObject], copies: int) -> Path | None:
    """Every object's hypernetworks (copy 0 and the extra copies that exist) as state_dict rows."""
    done = _done(p, "50_hypernets", objects)
    if not done:
        return None
    anchor = load_torch(p.hypernet_anchor)
    config = [[name, list(t.shape)] for name, t in anchor["state"].items()]
    params, owners, copy_index = [], [], []
    for o in done:
        for k in range(copies):
            path = p.hypernet(o.id, k)
            if k and not path.exists():
                continue
            state = load_torch(path)["state"]
            if [[name, list(t.shape)] for name, t in state.items()] != config:
                raise ValueError(f"hypernets: {path.name} has other tensors than the anchor hypernetwork")
            params.append(torch.cat([t.reshape(-1) for t in state.values()]).float().numpy())
            owners.append(o)
            copy_index.append(k)
    anchor_row = torch.cat([t.reshape(-1) for t in anchor["state"].values()]).float()
    attrs = dict(
        kind="hypernets",
        architecture="hypershape.nets.hypernet.HyperNet",
        config=json.dumps(anchor["config"]),
        input="unit direction [3] from the object to a camera",
        output="the flat weights of that view's image-SIREN (image_sirens.h5's param_config order): base + heads",
    )
    return write_shard(p.export("hypernets"), np.stack(params), config, owners, anchor_row, attrs, copies=copy_index)


def export_run(cfg) -> dict[str, Path]:
    """Write the export of the run `cfg` names (its route's shape-SIRENs) and say what it wrote."""
    p = paths_of(cfg)
    if not p.objects.exists():
        raise FileNotFoundError(f"no run at {p.root} (no {p.objects.name}): run the pipeline first")
    objects = load_objects(p.objects, fetched_only=True)
    paths = [
        export_image_sirens(p, objects),
        export_hypernets(p, objects, cfg.hypernet.copies),
        *export_shape_sirens(p, objects),
    ]
    return {path.stem: path for path in paths if path is not None}
