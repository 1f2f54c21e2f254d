"""Typed schema of every config section. Hydra YAML in configs/ is merged onto it, so a wrong key or
type fails when the config is composed, not an hour into a run."""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf


def _source_names() -> list[str]:
    """The source modules of hypershape/sources (every module but the package's own), found without importing
    them: the config stays importable without their dependencies."""
    folder = Path(__file__).resolve().parent / "sources"
    return sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_"))


Source = Enum("Source", {name: name for name in _source_names()}, module=__name__)
"""data.source's choices: one per module of hypershape/sources, so a name without a module fails at composition."""


ROUTES_DIR = Path(__file__).resolve().parent / "routes"
DEFAULT_ROUTE = "latent"
"""The route a run takes when none is chosen (configs/config.yaml names it too)."""


def route_names() -> list[str]:
    """The mapper routes: every module of routes/ but base.py, by file name, DEFAULT_ROUTE first. Read from
    the file names without importing them, so composing a config needs no torch."""
    found = sorted(f.stem for f in ROUTES_DIR.glob("*.py") if not f.stem.startswith("_") and f.stem != "base")
    return sorted(found, key=lambda name: name != DEFAULT_ROUTE)


Route = Enum("Route", [(name, name) for name in route_names()], module=__name__)
Route.__doc__ = "mapper.route: one member per module of routes/ (route_names), so an unknown name fails at composition."


class Split(Enum):
    in_family = "in_family"
    ood = "ood"
    random = "random"


class Heads(Enum):
    per_layer = "per_layer"
    monolithic = "monolithic"


class DecoderStart(str, Enum):
    readout = "readout"
    hull = "hull"


@dataclass
class DataConfig:
    source: Source = Source.procedural
    """Where objects come from, by the name of its module in hypershape/sources: procedural (the offline
    catalogue), local (a folder), objaverse, or any other module there."""
    num_objects: int = 12
    """How many objects to take from the source."""
    test_fraction: float = 0.25
    """Share of objects held out (never train the autoencoder or the mapper); how, says `split`."""
    split: Split = Split.in_family
    """in_family: one object in every K = round(1/test_fraction) of a family (K >= 3) is held out, at an
    offset drawn per family from [2, K), so every held-out object's family has >= 2 training objects
    (sources without families fall back to random). ood: whole families held out, each with chance
    test_fraction. random: each object held out with chance test_fraction, by its id. Each object's split
    depends on catalogue_seed, its id, index and family alone. test_genus, when set, overrides all three."""
    catalogue_seed: int = 0
    """Seed of the procedural catalogue's parameters and of the split (not the top-level seed, so another
    training seed keeps the same objects and the same held-out ones). Names carry it when it is not 0."""
    families: List[str] = field(default_factory=list)
    """Procedural families to draw from, round-robin in this order (empty: every family)."""
    local_dir: Optional[str] = None
    """Folder of .obj/.ply/.stl/.off/.glb meshes (source=local)."""
    objaverse_uids: List[str] = field(default_factory=list)
    """Objaverse uids to fetch first (source=objaverse)."""
    objaverse_lvis: List[str] = field(default_factory=list)
    """LVIS categories whose uids fill up to num_objects (source=objaverse)."""
    objaverse_cache: Optional[str] = None
    """Objaverse cache folder; None keeps the package's default (~/.objaverse)."""
    download_timeout_s: float = 120.0
    """Per-object download timeout."""
    test_genus: Optional[List[int]] = None
    """If set, exactly the objects of these genera are held out (an out-of-distribution split), whatever
    `split` says."""
    solid_resolution: int = 128
    """Grid resolution of the winding-number solid (02)."""
    thin_voxels: float = 1.0
    """Half-thickness, in voxels of that grid, of the slab an open sheet (a wing, a fin) or a closed wall
    thinner than this becomes in the solid; the slab's surface lies this far off the sheet on both sides.
    At least sqrt(3)/2 so the slab has no holes; surfaces that bound a volume are not thickened."""
    faithfulness_distance: float = 0.02
    """A point of the raw surface counts as kept when it lies within this distance of the solid's surface
    (normalised frame)."""
    faithfulness_points: int = 10_000
    """Area-uniform points on the raw mesh for the faithfulness figure of 02."""
    faithfulness_bar: float = 0.97
    """02 warns about an object whose faithfulness (share of raw points kept) is below this."""
    radius: float = 0.9
    """Objects are normalised so their farthest point lies at this radius."""
    sdf_pool: int = 200_000
    """Uniform pool in the unit ball from which SDF samples are importance-sampled."""
    sdf_samples: int = 40_000
    """SDF samples drawn from the pool with probability ~ exp(-beta |sdf|)."""
    surface_samples: int = 10_000
    """Surface points (sdf = 0) added to the SDF samples."""
    uniform_samples: int = 4_000
    """Points uniform in the whole cube [-1, 1]^3 that 90 scores (corners included, outside the pool's ball),
    with their signed distance, so the field far from the surface is supervised wherever it is scored."""
    eval_surface_points: int = 30_000
    """Surface points with normals kept for evaluation."""
    beta: float = 30.0
    """Importance-sampling sharpness."""
    train_limit: int = 0
    """The readout (60's autoencoder, 70's mapper, the retrieval baseline) learns from only the first k
    training objects in a seeded order (stages/common.py: readout_train; nested: the first 10 are among the
    first 20); 0 = every training object. The per-object stages and the 40/50 anchors ignore it."""


@dataclass
class RenderConfig:
    resolution: int = 32
    """Square view size in pixels."""
    yfov_deg: float = 40.0
    """Vertical field of view."""
    distance: float = 3.0
    """Camera distance from the origin."""
    elevations_deg: List[float] = field(default_factory=lambda: [45.0, 0.0, -45.0])
    """Elevation of each ring of cameras."""
    per_ring: int = 8
    """Cameras per ring."""


@dataclass
class SirenLayers:
    """The architecture both SIRENs share (nets/siren.py: SirenSpec.of reads these three)."""

    hidden: int = 64
    """Width of each sine layer."""
    sine_layers: int = 4
    """Number of sine layers (the first included)."""
    w0: float = 30.0
    """Sine frequency."""


@dataclass
class ImageSirenConfig(SirenLayers):
    anchor_steps: int = 500
    """Steps fitting the anchor to the mean training view."""
    steps: int = 40
    """Steps per view, warm-started from the anchor. Fewer steps make 40 faster and its views less sharp:
    the default is about the fewest that keep the views above the PSNR floor (docs/performance.md)."""
    lr: float = 1e-3
    """Adam learning rate."""
    batch: int = 24
    """SIRENs fitted together as one batched program, whole objects at a time (24 = one object's views at
    3 rings x 8). Batching is what keeps a GPU busy; on a CPU it gains little (benchmarks/image_siren_batch.py
    measures both)."""
    pixel_chunk: int = 0
    """Pixels per chunk of a step's loss (0 = all at once): the gradient is accumulated over the chunks, so a
    step is the same up to float summation order while the activations held are one chunk's (at large views
    and wide SIRENs all pixels at once may not fit a GPU: benchmarks/gpu_memory.py). A memory knob, not in
    40's keys."""


@dataclass
class HypernetConfig:
    hidden: int = 64
    """Width of each head's two hidden layers."""
    heads: Heads = Heads.per_layer
    """One head per image-SIREN tensor, or one head for the whole vector."""
    last_scale: float = 0.01
    """Scale of each head's last layer at init (a hypernetwork starts as the anchor SIREN)."""
    anchor_steps: int = 1000
    """Steps fitting the anchor hypernetwork to the per-view mean of the training SIRENs."""
    steps: int = 150
    """Steps per object (the same for train and test objects). Fewer steps make 50 faster and the generated
    views less sharp: the default is about the fewest that keep them above the PSNR floor
    (docs/performance.md)."""
    lr: float = 1e-3
    """Adam learning rate."""
    image_loss_weight: float = 1.0
    """Weight of the loss on the views the generated SIRENs draw (beside weight MSE)."""
    pixels_per_step: int = 256
    """Pixels per view in the image loss of one step (the image loss is most of a step's cost)."""
    copies: int = 1
    """Hypernetworks fitted per object, all from the anchor, each with its own seed for the pixels its steps
    draw. The first is the object's hypernetwork everywhere; the others are more training examples for the
    learned mappers (augmentation, 70). Each copy costs one more fit per object in 50."""


@dataclass
class RefineConfig:
    steps: int = 100
    """Refinement steps against the object's own 24 silhouettes."""
    lr: float = 1e-4
    """Adam learning rate."""
    rays: int = 512
    """Rays per step (drawn from all 24 views)."""
    samples_per_ray: int = 32
    """Points per ray inside the unit sphere."""
    temperature: float = 0.02
    """Softness of the silhouette: occupancy = sigmoid(-sdf / temperature)."""
    least_rounds: int = 2
    """Rounds of the search for each ray's least value about its least sample (stages/shape_sirens.ray_least),
    in the loss and in the views' agreement: a thin part that falls between samples_per_ray samples is found.
    0: the least sample."""
    outline_loss: str = "bce"
    """How a ray's least value m (least_rounds) is held to its pixel's coverage: "bce", the binary cross-entropy
    of sigmoid(−m / temperature) with the coverage (never satisfied, so it moves even the true shape);
    "hinge", max(0, m) where the pixel is mostly covered and max(0, −m) where it is mostly empty, half
    covered pixels left out (shape_sirens.HALF_COVERED): zero for a field whose outlines are the pictures'."""
    weight_reg: float = 1.0
    """Pull towards the predicted weights (keeps the field an SDF away from the rays)."""
    oracle_depth: bool = True
    """Also make the "oracle_depth" refinement (scored by 90 as a row of its own): it reads 03's depth maps,
    ground-truth geometry no RGB picture holds. "refined" never reads them."""
    depth_weight: float = 1.0
    """Weight of the oracle-depth refinement's depth terms (03's depth maps): |f| at each hit ray's surface
    point, and max(0, −f) at its samples in front of that point, which carves concavities no silhouette
    shows. 0: silhouettes only."""
    free_margin: float = 0.02
    """Samples closer than this to a ray's observed surface point are not held to be outside."""
    eikonal_weight: float = 0.0
    """Weight of (|∇f| − 1)² at the ray samples, to keep the refined field a distance field. Off by default:
    the gradient of a gradient makes each step several times dearer, and it lowered F@0.02 (README,
    refinement)."""
    accept_if_better: bool = True
    """Keep a refinement only where it agrees better with what it read, on eval_rays: "refined" where its
    silhouette IoU is higher; "oracle_depth" where silhouette IoU is no lower, depth error at most
    depth_slack higher and one of them better. Otherwise the refinement is the prediction."""
    depth_slack: float = 0.001
    """How much the median depth error may rise in a kept refinement (1/20 of F@0.02's tolerance): a
    refinement that fits the silhouettes better can move the depth error by float noise while the shape
    improves, and must not be thrown away for it."""
    eval_rays: int = 16384
    """Rays, evenly spaced over all views, on which the views' agreement (silhouette IoU, depth error) of
    the predicted and refined SIRENs is measured (all of them when the views have fewer)."""
    shading_weight: float = 0.0
    """Weight of the shading term of both refinements: at each drawn ray whose pixel it reads (fully covered,
    shading_margin from the outline), the field's first surface hit (made differentiable by one implicit
    step) and its normal predict the pixel's brightness (shading.py's model, calibrated on the renderer),
    held to the picture's by mean |difference|. Reads the RGB pictures only. With it > 0 the views' agreement
    also measures the shading error (median |difference| over the rays it reads that hit) and a refinement
    is kept only where it is at most shading_slack higher. 0: outlines only, as before."""
    shading_slack: float = 0.001
    """How much the median shading error may rise in a kept refinement (a quarter of an 8-bit grey level):
    a refinement that fits the outlines better moves it by noise, one that spoils a shape the prediction
    had right (a training object's faces rounded off to fit its outlines) raises it by more."""
    shading_margin: int = 1
    """The shading term and error read a fully covered pixel only where every pixel within this many of it
    is fully covered too (0: every fully covered pixel). Next to an outline a ray meets the surface at a
    grazing angle, where the brightness a pixel averages over its footprint is least like its centre's: there
    the mean |difference| falls as the surface moves outwards, so it pushed the truth out (docs/results.md)."""


@dataclass
class ShapeSirenConfig(SirenLayers):
    anchor_radius: float = 0.5
    """The anchor is the SDF of a sphere of this radius (a neutral shape)."""
    anchor_steps: int = 800
    """Steps fitting the anchor."""
    anchor_lr: float = 1e-3
    """Adam learning rate of the anchor: it starts from SIREN's random init, far from a sphere, so it takes
    larger steps than the targets that start from it (presets keep it at 10 x lr)."""
    steps: int = 300
    """Steps per target, warm-started from the anchor. Fewer steps make 60 faster and the targets less
    faithful: the default is about the fewest that keep them above the F-score floor (docs/performance.md).
    Route probe fits its hull's field with the same steps."""
    lr: float = 1e-4
    """Adam learning rate of the targets."""
    batch_points: int = 8192
    """SDF samples per step."""
    cube_points: int = 512
    """Points per step, fresh and uniform in the cube 90 meshes ([-reconstruct.bound, reconstruct.bound]^3),
    where the field is held above |q| - r, a lower bound of the SDF of any shape inside the ball of radius r
    (training.sdf_fit_loss). The SDF samples leave the cube's corners and edges sparse, and a SIREN grows
    surfaces there without it; 0 turns it off."""
    batch: int = 1
    """Objects fitted together as one batched program."""
    refine: RefineConfig = field(default_factory=RefineConfig)
    """Silhouette refinement of the predicted SIREN (80)."""


@dataclass
class WeightAEConfig:
    latent: int = 128
    """Latent size."""
    hidden: int = 256
    """Width of encoder and decoder hidden layers."""
    heads: Heads = Heads.per_layer
    """Decoder emits each shape-SIREN tensor by its own head, or all at once."""
    steps: int = 2000
    """Training steps."""
    lr: float = 1e-3
    """Adam learning rate."""
    sdf_loss_weight: float = 1.0
    """Weight of the SDF loss of decoded SIRENs on the objects' samples (beside weight MSE)."""
    sdf_points: int = 2048
    """SDF samples per object per step for that loss."""
    batch_objects: int = 16
    """Training objects per step, drawn anew each step (0 = all): bounds a step's cost at any N."""
    shared_anchor: bool = True
    """Warm-start targets from the shared anchor; False starts each from its own random init."""


@dataclass
class ProbeConfig:
    upsample: int = 1
    """The probe draws each view at this many times render.resolution. A SIREN is continuous in its pixel
    coordinates, but one fitted at the pixel centres alone need not be smooth between them: drawn finer, a
    hypernetwork's views can break up there, and the hull, an intersection of all 24 outlines, loses every
    part that one view drops (docs/results.md)."""
    threshold: float = 0.15
    """A point of a probed view is inside the object's outline where its brightness (mean RGB, views on
    black) exceeds this."""
    resolution: int = 128
    """Grid per axis over [-reconstruct.bound, reconstruct.bound]^3 on which the hull is carved and meshed."""
    feature_resolution: int = 16
    """The probed views at this resolution, flattened, are the route's input space (retrieval looks up
    nearest neighbours in it)."""


@dataclass
class MapperConfig:
    route: Route = Route[DEFAULT_ROUTE]
    """Which route turns an object's hypernetwork into a shape: the module of that name in routes/ (its
    docstring says what it trains in 70 and predicts in 80)."""
    sketch_dim: int = 1024
    """The whole hypernetwork residual is count-sketched to this size (memory-bounded at any N)."""
    hidden: int = 256
    """Width of the mapper's hidden layers."""
    heads: Heads = Heads.per_layer
    """Route direct: emit each shape-SIREN tensor by its own head, or all at once."""
    steps: int = 2000
    """Training steps."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    function_weight: float = 0.0
    """Routes latent and direct (and hybrid's latent mapper): weight of a function-space term added to the
    weight error, the mean |f - sdf| of the predicted shape-SIREN at the training object's own SDF samples
    (0 = weight error only)."""
    function_points: int = 2048
    """SDF samples per training object the function-space term is evaluated at: a fixed, seeded subset of
    the object's 02 samples, drawn once."""
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    """Routes probe and hybrid: how the hypernetwork is probed and its hull carved."""


@dataclass
class DecoderConfig:
    """The shared shape decoder f(z, x) -> sdf with one latent z per object (readout/autodecode.py), the
    readout that reads z off an object's hypernetwork by what it draws at probes (readout/probe_encoder.py),
    and the test-time fitting of z to the hypernetwork's outlines."""

    latent: int = 64
    """Size of each object's latent."""
    hidden: int = 128
    """Width of the decoder's hidden layers."""
    layers: int = 4
    """Hidden layers of the decoder; the input (z, x) is fed again into the middle one (DeepSDF's skip)."""
    frequencies: int = 4
    """Fourier features of x: sin and cos of 2^k pi x for k < frequencies, beside x (0: x alone)."""
    clamp: float = 0.1
    """SDF values and predictions are clamped to [-clamp, clamp] in the L1 loss (DeepSDF's delta)."""
    steps: int = 2000
    """Auto-decoding steps (latents and decoder optimised together)."""
    lr: float = 1e-3
    """Adam learning rate of the decoder."""
    latent_lr: float = 1e-3
    """Adam learning rate of the latents."""
    points: int = 2048
    """SDF samples per object per step."""
    batch_objects: int = 16
    """Training objects per auto-decoding step, drawn anew each step (0 = all): bounds a step's cost."""
    init_norm: float = 1.0
    """Expected norm of a latent at init (each dimension drawn from N(0, init_norm^2 / latent), as DeepSDF
    does): latents too close together at the start leave the decoder one average shape to learn."""
    prior_weight: float = 1e-4
    """Weight of the Gaussian prior on the codes, mean ||z||^2 (DeepSDF's code regularisation)."""
    fit_steps: int = 300
    """Steps fitting one new object's latent to its SDF samples with the decoder frozen."""
    fit_lr: float = 5e-3
    """Adam learning rate of that fit."""
    probe_resolution: int = 8
    """Pixels per side of the probe grid each of the 24 emitted image-SIRENs is drawn at (the readout's
    input: 24 x probe_resolution^2 brightness values)."""
    learn_probes: bool = False
    """Learn the probes' pixel positions with the encoder (the camera directions stay fixed)."""
    readout_hidden: int = 256
    """Width of the readout encoder's two hidden layers."""
    readout_steps: int = 1500
    """Readout training steps."""
    readout_lr: float = 1e-3
    """AdamW learning rate of the readout."""
    readout_weight_decay: float = 1e-4
    """AdamW weight decay of the readout."""
    function_weight: float = 1.0
    """Weight of the readout's function term: the clamped L1 of the frozen decoder at the predicted latent
    on the training object's SDF samples (beside the squared error to its auto-decoded latent)."""
    readout_batch_objects: int = 16
    """Training objects whose SDF samples the function term reads per readout step, drawn anew each step
    (0 = all; every object when there are no more than this): bounds a step's cost at any number of training
    objects. The latent term reads every object each step."""
    refine_steps: int = 50
    """Test-time steps fitting the latent (decoder frozen) to the hypernetwork's outlines; 0: none."""
    refine_lr: float = 1e-2
    """Adam learning rate of that fit."""
    refine_pull: float = 1.0
    """Weight of the pull of the refined latent towards the readout's: the mean squared move per dimension,
    in units of the training latents' spread in that dimension."""
    start: DecoderStart = DecoderStart.readout
    """The latent 80 starts an object from (its "predicted" row), which 80's refinement then fits to the
    views: readout, the trained readout's; hull, the latent fitted (decoder frozen, from the prior's mean,
    fit_steps at fit_lr) to SDF samples of the visual hull route probe carves from the views the object's
    hypernetwork draws. Either reads the object's hypernetwork alone. Keys 80, not 70: nothing trained reads it."""


@dataclass
class ViewFieldConfig:
    """Route view_field: a network learnt on the training objects reads a point's signed distance off the
    brightness each view the hypernetwork draws has at the point's projection (readout/view_field.py)."""

    blur_radii: List[int] = field(default_factory=lambda: [0, 1, 2, 4])
    """Box blurs (radius in pixels at render.resolution; 0: as drawn) under which each view is sampled:
    how near a point projects to an outline, beyond the one pixel it lands on."""
    saturation: float = 0.15
    """Each view's brightness is divided by this and capped at 1 before the blurs: inside an outline a view
    shows shading, which says nothing of how near the outline a point projects (1: brightness as drawn)."""
    order: str = "blur"
    """How a point's values over the V views are ordered before the network reads them. `blur`: each blur's
    V values sorted on their own, so no view's place is learnt; `ring`: as `blur`, but within each ring of
    cameras (render.elevations_deg) on its own, so the network knows which values come from views looking
    down, across or up (the catalogue's objects stand upright), not their azimuths (over three seeds it read
    better than `blur` in family with the genus kept, and on new families but for the chairs, whose seats
    it thins, to holes in the thinnest: docs/results.md); `view`: the views sorted
    once (by their values summed over the blurs), each carrying its blurs along, so the network sees which
    blurred values come from one view (in family it changed nothing measurable: docs/results.md); `camera`:
    unsorted, in the cameras' fixed order, so the network knows which camera saw what (e.g. which views look
    down into a hollow), at the cost of learning the training objects' poses."""
    shading: bool = False
    """Each point also reads each view's brightness as drawn (not saturated) under the same blurs: inside an
    outline a view's shading says which way the surface it shows faces, which no outline says (a hollow's
    inner wall where a solid would show a cap). Beside `saturation`, which keeps the outlines' channels as
    they are. In family, with order `ring`, it read the hollows of cups and mugs and made holes in boxes and
    bowls (docs/results.md)."""
    hull_residual: bool = False
    """Each point also reads, under the same blurs, what the drawn views show that the visual hull of their
    outlines does not (their brightness less the hull's, rendered as 03 renders): a hollow the hull fills
    draws back otherwise than the cap the hull puts over it. Costs a hull and its renders per object in 70
    and 80. In family it read the hollows of cups, mugs and bowls and left more holes and loose pieces
    elsewhere; with order `ring` at 64 pixels, the best in-family median over three readout seeds (0.912),
    with the genus right in 77%; at the one readout seed tried, neither three members, a 256-wide network nor
    order `camera` brought it back (docs/results.md)."""
    hull_depth: float = 0.0
    """Each point also reads how far behind the front of the visual hull of the views' outlines it lies in
    each view (the hull's depth rendered as 03 renders), clamped to ± this (in SDF units; 0: not read): how
    deep inside the hull a point is, beside how near an outline it projects. With hull_residual and order
    `ring` at 64 pixels, in family over three readout seeds 0.3 read a median of 0.916 and 0.6 of 0.938 (the
    residual alone 0.912; object by object +0.008 and +0.007), with the genus right in 73% and 65%; at 0.3
    new families read worse object by object (−0.013, genus 60%); 0.9 read the training objects closest
    (0.945 ± 0.008 over three seeds; at seed 0 0.948, 0.6 0.943, 1.5 0.938): docs/results.md. Comes with
    the hull's renders hull_residual makes."""
    hidden: int = 128
    """Width of the network's hidden layers."""
    layers: int = 3
    """Hidden layers of the network."""
    members: int = 1
    """Networks trained side by side from different inits, their SDFs averaged where the field is read. In
    family with order `ring`, three read a steadier median over three readout seeds than one (a seed's miss
    outvoted), not a higher one object by object, for 1.7 times 70's time; on new families genus right in 90%
    at every seed (one network 80–90%), the median no higher (docs/results.md)."""
    clamp: float = 0.1
    """SDF values and predictions are clamped to [-clamp, clamp] in the L1 loss (as decoder.clamp)."""
    steps: int = 1500
    """Training steps. Over readout seeds 0-2 on cpu100 (rings, hull residual, hull depth 0.9), 3000 read the
    training objects at 0.968 ± 0.002 against 0.945 ± 0.008 and the held-out ones at 0.940 ± 0.005 against
    0.932 ± 0.006, for about 1.8 times 70's time (docs/results.md)."""
    lr: float = 1e-3
    """Adam learning rate (at the first step)."""
    lr_end: Optional[float] = 1e-5
    """Learning rate at the last step, reached from `lr` along a half cosine (None: constant at `lr`). With
    fill_voids, one network's median F@0.02 on new families varied less over three readout seeds than three
    constant-rate members' and was no lower (docs/results.md); without it, the field leaves voids."""
    points: int = 2048
    """SDF samples per object per step."""
    batch_objects: int = 16
    """Training objects per step, drawn anew each step (0 = all): bounds a step's cost."""
    coarse: int = 32
    """80 reads the field over mapper.probe.resolution^3 coarse to fine: first over this many points per axis,
    then exactly near its zero set and wherever marching cubes reads (0: every point of the fine grid; the
    same mesh but for a part the band misses entirely, benchmarks/view_field_grid.py)."""
    band: float = 0.06
    """How near zero (in SDF units) the coarse field must come around a fine point for 80 to read it there;
    above half the coarse cell's diagonal (0.056 at 32 over [-1, 1]), so no cell a surface crosses is missed."""
    fill_voids: bool = True
    """80 makes inside every void the field leaves sealed inside the solid (no picture shows one). A field
    trained with a falling learning rate leaves them in about half the objects: deep inside a solid every
    view is saturated at every blur, as it is in a training cup's hollow."""
    close_gaps: float = 0.0
    """80 makes inside every gap, tunnel or notch of the field's solid narrower than about twice this (in SDF
    units: a morphological closing by a ball of this radius on the probe grid), where the drawn views'
    visual hull is inside, so a hole some picture sees through stays open (0: off). The field cuts tunnels
    through thin walls that no picture shows; where a hole is narrower than the views resolve, the hull
    covers it and it closes too. At 0.24 on cpu100 (hull_depth 0.6, rings), the genus is right in 85% ± 5%
    of held-out objects (from 65%) at a median F@0.02 0.925 (from 0.938), but the plate's holes and the
    ring's hole close (docs/results.md)."""


@dataclass
class ReconstructConfig:
    resolution: int = 128
    """Marching-cubes grid per axis."""
    bound: float = 1.0
    """Grid and IoU cube cover [-bound, bound]^3."""
    n_points: int = 30_000
    """Surface points per mesh for Chamfer, F-score and normal consistency."""
    taus: List[float] = field(default_factory=lambda: [0.01, 0.02])
    """F-score thresholds."""
    iou_points: int = 100_000
    """Uniform points for volumetric IoU."""
    domain_radius: float = 0.97
    """touches_domain: share of a reconstructed mesh's area at |p| >= this radius. Objects end at
    data.radius (0.9), so surface out there is made by the field outside the object (cube walls, corners)."""
    picture_objects: int = 16
    """Objects shown in the summary picture."""


@dataclass
class DeviceConfig:
    kind: str = "cpu"
    """cpu or cuda."""
    index: int = 0
    """CUDA device index."""
    tf32: bool = True
    """Allow TF32 matmuls on CUDA."""
    autocast: Optional[str] = None
    """Autocast dtype on CUDA (bf16 or fp16); None for full precision."""
    compile: bool = False
    """torch.compile the batched SIREN forward."""
    threads: Optional[int] = None
    """torch CPU threads; None keeps torch's default."""
    eval_chunk: int = 16384
    """Points per forward pass where a SIREN is only evaluated (grids for marching cubes, scoring, view
    checks). On a CPU, 16,384 points of a 64-wide SIREN keep the activations in cache, which beats larger
    chunks (benchmarks/eval_chunk.py compares them); on a GPU larger chunks fill the device better."""


@dataclass
class ShardConfig:
    index: int = 0
    """This job's shard, in [0, count). Objects go to shards by a hash of their id."""
    count: int = 1
    """How many shards the per-object stages split their objects into (one job each)."""
    wait_s: float = 3600.0
    """How long a job waits for a shared artifact (an anchor, the autoencoder) another job is making."""
    poll_s: float = 5.0
    """How often a waiting job looks again."""
    stale_after_s: float = 600.0
    """A claim on an object that nobody has touched for this long (its job died on another machine) is
    taken over; on the same machine a dead job's claims are taken over at once."""


@dataclass
class RoutesExperiment:
    seeds: List[int] = field(default_factory=lambda: [0])
    """Values of the top-level `seed` (the whole run's randomness, not the split) the routes are compared
    over; the table gives mean ± std over them."""
    routes: List[str] = field(default_factory=list)
    """The routes compared, the first being the base run; empty: every registered route (mapper.route's choices)."""


@dataclass
class InterpolationExperiment:
    """Paths between pairs of objects (experiment=interpolation, and the anchor experiment's validity)."""

    pairs: int = 10
    """Object pairs, drawn with the run's seed."""
    steps: int = 7
    """Meshes along each path, ends included."""
    resolution: int = 64
    """Marching-cubes grid per axis."""


@dataclass
class OodExperiment:
    genus: List[int] = field(default_factory=lambda: [2])
    """Objects of these genera are held out from training entirely (data.test_genus of the variant run)."""


@dataclass
class LearningCurveExperiment:
    routes: List[str] = field(default_factory=lambda: ["decoder", "latent", "hybrid"])
    """Routes on the curve (routes/); the first's variant runs every stage, the others reuse it from 70."""
    train_sizes: List[int] = field(default_factory=lambda: [10, 20, 40, 80, 160, 320])
    """Numbers of training objects the readout learns from (data.train_limit of each variant); those above the
    base run's train split are dropped."""
    readout_seeds: List[int] = field(default_factory=lambda: [0])
    """Values of `readout_seed` repeated at the largest size (the smaller sizes use the first)."""
    ood: bool = False
    """Repeat the largest size with data.split=ood."""


@dataclass
class ReadoutExperiment:
    readout_seeds: List[int] = field(default_factory=lambda: [0])
    """Values of `readout_seed` every run is repeated over (the first is the base run's)."""
    ood: bool = False
    """Repeat every run with data.split=ood."""
    ingredients: Dict[str, Any] = field(default_factory=dict)
    """Ablation rows, {name: {route: hybrid|probe|latent|decoder, overrides: {dotted key: value}}}: that route's run
    of every readout seed and held-out split repeated with the overrides (run `<run>-<name>`, scored on test
    objects)."""


@dataclass
class PairedExperiment:
    """Finished runs compared object by object with base runs (experiment=paired; it runs nothing)."""

    base_runs: List[str] = field(default_factory=list)
    """The base runs (of one data_dir and route), e.g. one per readout seed; empty: the run `name` alone."""
    runs: List[List[str]] = field(default_factory=list)
    """[[run, ...], ...]: each entry one run per base run, in the same order, each paired with the base run at
    its place (a list of lists, since a command line cannot add keys to a typed dict)."""
    labels: List[str] = field(default_factory=list)
    """A row label per entry of runs; empty: each entry's first run's name."""
    routes: List[str] = field(default_factory=list)
    """A route per entry of runs, whose 90 summary of those runs is read (two routes of the same runs can be
    paired so); empty: mapper.route for every entry. The base runs are always read under mapper.route."""
    split: str = "test"
    """The split whose objects are paired."""
    tolerance: float = 0.005
    """An object counts as up or down when its paired change of the headline F-score is beyond this."""


@dataclass
class OutlinesExperiment:
    """The visual hull of each object's true pictures (experiment=outlines; runs 01 and 02 only)."""

    resolutions: List[int] = field(default_factory=lambda: [32, 64, 128])
    """View resolutions (pixels) at which 03's cameras render each object's ground truth for its hull."""
    split: str = "test"
    """The split whose objects are carved."""


@dataclass
class RefinementExperiment:
    """80's refinement from the pictures started from each object's 60 target, the truth as a shape-SIREN holds
    it (experiment=refinement; runs 01, 02, 03 and 60 only; shape_siren.refine sets the refinement)."""

    split: str = "test"
    """The split whose objects are refined."""


@dataclass
class ExperimentConfig:
    """Which experiment experiment.py runs, and each experiment's own settings (configs/experiment/<name>.yaml
    sets `name` and that experiment's section)."""

    name: Optional[str] = None
    """routes, heads, anchor, interpolation, baseline, ood, learning_curve, readout, paired, outlines or
    refinement."""
    routes: RoutesExperiment = field(default_factory=RoutesExperiment)
    interpolation: InterpolationExperiment = field(default_factory=InterpolationExperiment)
    ood: OodExperiment = field(default_factory=OodExperiment)
    learning_curve: LearningCurveExperiment = field(default_factory=LearningCurveExperiment)
    readout: ReadoutExperiment = field(default_factory=ReadoutExperiment)
    paired: PairedExperiment = field(default_factory=PairedExperiment)
    outlines: OutlinesExperiment = field(default_factory=OutlinesExperiment)
    refinement: RefinementExperiment = field(default_factory=RefinementExperiment)


@dataclass
class CurvesConfig:
    keep: bool = True
    """Keep every fit's loss curve (stages 40-80), write them as TensorBoard events per stage and draw 90's
    convergence figure. Changes no trained number."""
    objects: int = 3
    """Objects whose own curves each stage's TensorBoard events show beside the spread over all objects
    (median, 10th and 90th percentile per step): the first this many in the catalogue's order."""


@dataclass
class Config:
    name: str = "default"
    """Run name: all artifacts go under data_dir/name, so presets do not collide."""
    preset: str = "default"
    """Which preset the sizes come from."""
    data_dir: str = "data"
    """Root of every artifact."""
    seed: int = 0
    """Seed of every random choice."""
    readout_seed: Optional[int] = None
    """Seed of the readout's randomness only (60's autoencoder init and draws, 70's mapper init, 80's
    refinement draws); None = seed. The split, the per-object stages, the anchors, the mapper's sketch and
    90's scoring draws keep `seed`, so readout seeds differ in the readout alone."""
    eval_splits: List[str] = field(default_factory=lambda: ["train", "test"])
    """Splits whose objects 80 makes and 90 scores (e.g. [test] for held-out numbers without the cost of
    the training objects); the other objects are left as they are and are not in 90's summary."""
    strict: bool = False
    """Exit 1 when any object failed (for clusters and CI); by default a stage with failed objects exits 0
    and prints how many failed."""
    branch_from: Optional[str] = None
    """Another run's name: this run starts from links to its finished stages (sweeps and experiment
    variants do this), and the manifests decide what is redone."""
    readout_from: Optional[str] = None
    """Another run's name (same data_dir) whose learned, shared parts this run reads its objects with: the
    anchors of 40, 50 and 60, 60's autoencoder and 70's mapper of this route, linked unchanged (never
    trained here) and keyed by that run's records of them. Every object of this run is held out (split
    test, whatever data.split says); the sizes those parts depend on must be that run's."""
    data: DataConfig = field(default_factory=DataConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    image_siren: ImageSirenConfig = field(default_factory=ImageSirenConfig)
    hypernet: HypernetConfig = field(default_factory=HypernetConfig)
    shape_siren: ShapeSirenConfig = field(default_factory=ShapeSirenConfig)
    weight_ae: WeightAEConfig = field(default_factory=WeightAEConfig)
    mapper: MapperConfig = field(default_factory=MapperConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    view_field: ViewFieldConfig = field(default_factory=ViewFieldConfig)
    reconstruct: ReconstructConfig = field(default_factory=ReconstructConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    curves: CurvesConfig = field(default_factory=CurvesConfig)


def register() -> None:
    """Put the schema in Hydra's ConfigStore as `base` (configs/config.yaml starts from it)."""
    ConfigStore.instance().store(name="base", node=Config)


register()


def readout_seed(cfg: Any) -> int:
    """The seed of the readout's randomness: cfg.readout_seed, or cfg.seed when it is None."""
    return cfg.seed if cfg.readout_seed is None else cfg.readout_seed


def section(cfg: Any, name: str) -> dict:
    """A config section as a plain dict (enums as their names): what fingerprints hash."""
    return OmegaConf.to_container(cfg[name], resolve=True, enum_to_str=True)
