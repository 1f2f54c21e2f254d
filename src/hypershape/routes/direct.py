"""Route direct: the mapper (readout/learned.py) maps a hypernetwork's sketch straight to the object's
shape-SIREN weights, as their residual from the shape anchor, one head per tensor (mapper.heads)."""

from __future__ import annotations

import torch

from ..nets.standardise import Standardiser
from ..readout.learned import LearnedRoute
from ..runtime import load_torch
from ..stages.common import shape_spec


class Direct(LearnedRoute):
    output = "direct"

    def targets(self, cfg, paths, examples, anchor):
        targets = {i: load_torch(paths.target(i))["flat"] for i in dict.fromkeys(examples)}
        y = torch.stack([targets[i] for i in examples]).to(anchor.device) - anchor
        return y, Standardiser(shape_spec(cfg).sizes).to(anchor.device).fit(y)

    def weights(self, cfg, paths, anchor):
        return lambda y: anchor + y

    def heads(self, cfg):
        return cfg.mapper.heads.value


ROUTE = Direct()
