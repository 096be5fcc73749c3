"""The shapes world: a synthetic text-video world with exact physics (spec: shapes-world.md v1).

    import numpy as np
    from openreel.world import SceneDist, sample_scene, simulate, render, captions, parse_caption

    rng = np.random.default_rng(3)
    scene = sample_scene(rng, SceneDist(size=128))   # a realized Scene
    traj = simulate(scene)                            # (T, N, 4): x, y, angle, scale
    frames = render(scene, traj)                      # (T, H, W, 3) uint8
    texts = captions(scene, rng, "zh")                # several Chinese captions
    description = parse_caption(texts[0])             # back to a Scene description

Attributes are imported on first use, so `import openreel.world` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Scene": "scene", "SceneObject": "scene", "Combo": "scene", "parse_combo": "scene", "scene_from_dict": "scene",
    "SceneDist": "sampler", "sample_scene": "sampler", "realize": "sampler",
    "simulate": "physics", "render": "render", "render_scene": "render",
    "caption": "captions", "captions": "captions", "parse_caption": "parse", "tokenize": "parse",
    "WorldSample": "dataset", "make_sample": "dataset", "stream": "dataset", "write_dataset": "dataset",
    "read_metadata": "dataset",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"openreel.world.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'openreel.world' has no attribute {name!r}")
