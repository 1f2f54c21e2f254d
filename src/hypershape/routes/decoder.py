"""Route decoder: one shape decoder shared by every object, a small latent per object (readout/autodecode.py).
70 auto-decodes the decoder and the training objects' latents on their 02 SDF samples, then trains the probe
readout (readout/probe_encoder.py: what the hypernetwork draws at probe pixels -> latent) on the training
objects only. 80 reads an object's latent off its hypernetwork with the readout (or fits it to the hull of the
views the hypernetwork draws: decoder.start), and refines that latent (not the decoder) through the frozen
decoder; 90 meshes the decoder at the refined latent (cfg.decoder)."""

from __future__ import annotations

import torch

from ..config import DecoderStart, readout_seed
from ..nets.shape_decoder import load_decoder, save_decoder
from ..readout.autodecode import fit_latent
from ..readout.benchmark import train_networks
from ..readout.probe import Prober
from ..readout.probe_encoder import ProbeEncoder, emitted_sirens
from ..routes.base import DecoderField, Field, MapperRoute, Predictor, TrainingSet
from ..routes.probe import hull_samples
from ..runtime import device_of, generator, load_torch, save_torch
from ..stage_specs import mapper_config
from ..stages.common import image_spec


class DecoderPredictor(Predictor):
    """The latent an object starts from (decoder.start), read off its hypernetwork alone, so the row stays
    "predicted": the trained readout's latent from the views the hypernetwork draws at the probes, or the
    latent fitted with the decoder frozen to SDF samples of the visual hull those views carve (route
    probe's hull, which reads nothing learnt from other objects). The record says which start it is."""

    def __init__(self, cfg, paths, device):
        ckpt = load_torch(paths.mapper)
        c, e = ckpt["config"], ckpt["encoder"]
        self.cfg, self.start, self.seed = cfg, DecoderStart(cfg.decoder.start), readout_seed(cfg)
        self.prober = Prober(cfg, paths, image_spec(cfg), device)
        self.encoder = ProbeEncoder(
            image_spec(cfg), e["views"], c["probe_resolution"], c["readout_hidden"], c["latent"], c["learn_probes"]
        )
        self.encoder.load_state_dict(e["state"])
        self.encoder = self.encoder.to(device).eval().requires_grad_(False)
        self.decoder = load_decoder(ckpt["decoder"], device)

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        how = dict(start=self.start.value)
        if self.start == DecoderStart.hull:
            return self.hull_latent(obj_id), how
        with torch.no_grad():
            return self.encoder(emitted_sirens(self.prober, obj_id)[None])[0], how

    def hull_latent(self, obj_id: str) -> torch.Tensor:
        """The latent fitted (decoder frozen, from the prior's mean) to SDF samples of the object's drawn hull."""
        _, points, sdf = hull_samples(self.cfg, self.prober, obj_id, self.seed)
        gen = generator(self.seed, "decoder-hull", obj_id)
        return fit_latent(self.decoder, points, sdf, self.cfg.decoder, gen)[0]


class Decoder(MapperRoute):
    def inputs(self, cfg, data: TrainingSet) -> tuple:
        # auto-decoding reads the training objects' SDF samples; the readout their hypernetworks; 80 every one's
        return data.split(), data.train_keys("02_watertight", "50_hypernets"), data.hypernets()

    def make(self, cfg, data: TrainingSet) -> dict:
        p, dev, stage = data.stage.paths, device_of(cfg), data.stage
        prober = Prober(cfg, p, image_spec(cfg), dev)
        nets = train_networks(cfg, p, data.train_ids, prober, dev)
        stage.keep_shared_curve("autodecode", nets["autodecode_curve"])
        stage.keep_shared_curve("readout", nets["readout_curve"])
        save_torch(
            p.mapper,
            dict(
                route=self.name,
                decoder=save_decoder(nets["decoder"]),
                codes=nets["codes"].cpu(),
                encoder=dict(views=len(prober.directions), state=nets["encoder"].state_dict()),
                train_ids=data.train_ids,
                config=mapper_config(cfg)["decoder"],  # what 70 read: not decoder.start, which 80 reads
                readout_seed=readout_seed(cfg),
            ),
        )
        (a0, a1), (r0, r1) = nets["autodecode_loss"], nets["readout_loss"]
        stage.log.info(
            "decoder on %d train objects: auto-decoding loss %.4g -> %.4g, readout loss %.4g -> %.4g",
            len(data.train_ids),
            a0,
            a1,
            r0,
            r1,
        )
        info = dict(autodecode_loss_first=a0, autodecode_loss_last=a1, loss_first=r0, loss_last=r1)
        return dict(info, train=len(data.train_ids), train_ids=data.train_ids)

    def predictor(self, cfg, paths, device) -> Predictor:
        return DecoderPredictor(cfg, paths, device)

    def field(self, cfg, paths, device) -> Field:
        ckpt = load_torch(paths.mapper)
        return DecoderField(load_decoder(ckpt["decoder"], device), ckpt["codes"].to(device))


ROUTE = Decoder()
