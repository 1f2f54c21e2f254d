"""Route hybrid: three candidates, each read off the object's hypernetwork alone (latent: route latent's
mapper and decoder, which 70 trains as for route latent; probe: route probe's fit of the hull; retrieval:
the target of the training object nearest in the mapper's sketch space, on a training object its own:
memory, not reading). Each is marched at mapper.probe.resolution and rendered from the cameras as 03
renders; the prediction is the one whose brightness is closest (mean |difference|, readout/probe.view_error)
to the views the hypernetwork draws. Where an object is like a training object its shape draws the views
back, concavities included; where none is, the hull's outlines win. Records the choice and every view
error, and memory where the chosen candidate is the object's own target; a candidate that cannot be made
(outlines that share no point) is left out."""

from __future__ import annotations

import torch

from ..geometry.marching import mesh_from_sdf
from ..paths import readout_paths
from ..readout.probe import view_error
from ..readout.retrieval import RetrievalPredictor
from ..routes.base import Field, Predictor
from .latent import Latent
from .probe import ProbePredictor


class HybridPredictor(Predictor):
    """Predicts with every candidate and keeps the one whose views are closest to the hypernetwork's."""

    def __init__(self, cfg, device, candidates: dict[str, Predictor], field: Field, prober):
        self.cfg, self.device, self.field = cfg, device, field
        self.candidates, self.prober = candidates, prober

    def view_error(self, flat: torch.Tensor, images: torch.Tensor) -> float:
        c = self.cfg
        f = self.field.numpy(flat, self.device, c.device.eval_chunk)
        return view_error(mesh_from_sdf(f, c.mapper.probe.resolution, c.reconstruct.bound), images, c.render)

    def predict(self, obj_id: str) -> tuple[torch.Tensor, dict]:
        images = self.prober.images(obj_id, self.cfg.render.resolution)
        flats, info, memory = {}, {}, {}
        for name, predictor in self.candidates.items():
            try:
                flats[name], how = predictor.predict(obj_id)
            except ValueError as e:  # the hull is empty: the other candidates remain
                info[f"{name}_failed"] = str(e)
                continue
            memory[name] = bool(how.pop("memory", False))
            info.update(how)
            info[f"view_error_{name}"] = self.view_error(flats[name], images)
        if not flats:
            raise ValueError("; ".join(info.values()))
        chosen = min(flats, key=lambda k: info[f"view_error_{k}"])
        return flats[chosen], dict(info, prediction=chosen, memory=memory[chosen])


class Hybrid(Latent):
    def predictor(self, cfg, paths, device) -> Predictor:
        candidates = dict(
            latent=super().predictor(cfg, paths, device),
            probe=ProbePredictor(cfg, paths, device),
            retrieval=RetrievalPredictor(paths, device, readout_paths(cfg)),
        )
        field = self.field(cfg, paths, device)
        return HybridPredictor(cfg, device, candidates, field, candidates["probe"].prober)

    def summary(self, records: list[dict]) -> str:
        chosen = [r["prediction"] for r in records if "prediction" in r]
        return f"hybrid predictions: { {k: chosen.count(k) for k in sorted(set(chosen))} }" if chosen else ""


ROUTE = Hybrid()
