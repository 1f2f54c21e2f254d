"""03_render_views: 24 RGBA views + depth + cameras of each solid, with pyrender (headless EGL)."""

from __future__ import annotations

import trimesh

from ..render import render_like
from ..runtime import Stage, save_npz


def run(cfg) -> dict:
    stage = Stage(cfg, "03_render_views")
    p = stage.paths

    def work(objs):
        (o,) = objs
        mesh = trimesh.load(p.solid(o.id), force="mesh", process=False)
        v = render_like(mesh, cfg.render)
        coverage = float((v["rgba"][..., 3] > 0).mean())
        if coverage == 0:  # checked before writing: a blank object leaves no views for 40 to read
            raise ValueError("every view is blank")
        save_npz(p.views(o.id), **v)
        return {o.id: dict(coverage=coverage)}

    stage.run_objects(stage.objects(), outputs=lambda o: [p.views(o.id)], work=work)
    return stage.finish()
