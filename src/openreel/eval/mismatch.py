"""Deliberately mismatched (video, description) pairs: the evaluator must fail them.

Each kind renders a ground-truth clip and changes one thing in the description it is scored
against (or leaves an object out of the video, or out of the description). The evaluator's
false-pass rate on these is a measured figure (benchmarks/eval_accuracy.py) and a test.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from openreel.world import vocab
from openreel.world.physics import simulate
from openreel.world.render import render
from openreel.world.sampler import SceneDist, sample_scene
from openreel.world.scene import Scene, parse_combo

# kind -> hold-out combination that guarantees an object to change ("" = any scene)
KINDS = {
    "wrong_color": "",
    "wrong_shape": "",
    "wrong_size": "",
    "wrong_direction": "move",
    "no_bounce": "still",
    "reversed_spin": "spin",
    "grow_vs_shrink": "resize",
    "wrong_motion": "",
    "wrong_background": "",
    "missing_object": "",
    "extra_object": "",
}


@dataclass
class Pair:
    kind: str
    truth: Scene  # what the video shows
    frames: np.ndarray  # (T, H, W, 3) uint8
    claim: Scene  # the (wrong) description it is scored against
    change: str  # what was changed, for reports


def make_pair(kind: str, rng: np.random.Generator, size: int = 128, seconds: float = 2.0) -> Pair:
    if kind not in KINDS:
        raise ValueError(f"unknown mismatch kind {kind!r} (one of {', '.join(KINDS)})")
    combo = KINDS[kind]
    objects = {2: 1.0, 3: 1.0} if kind in ("missing_object", "extra_object") else {1: 0.4, 2: 0.35, 3: 0.25}
    dist = SceneDist(size=size, seconds={seconds: 1.0}, objects=objects,
                     holdout=(combo,) if combo else (), split="heldout" if combo else "train")
    while True:
        truth = sample_scene(rng, dist)
        target = _target(truth, combo, rng, removing=kind in ("missing_object", "extra_object"))
        if target is not None:
            break
    traj = simulate(truth)
    claim = truth.describe()
    objs = list(claim.objects)
    o = objs[target]
    shown = truth
    if kind == "wrong_color":
        used = {p.color for p in objs}
        new = str(rng.choice([c for c in vocab.COLORS if c not in used]))
        objs[target], change = replace(o, color=new), f"{o.color} -> {new}"
    elif kind == "wrong_shape":
        shapes = [s for s in vocab.SHAPES if s != o.shape and not (s == "circle" and o.motion in vocab.SPINS)]
        new = str(rng.choice(shapes))
        objs[target], change = replace(o, shape=new), f"{o.shape} -> {new}"
    elif kind == "wrong_size":
        new = str(rng.choice([s for s in vocab.SIZES if s != o.size]))
        objs[target], change = replace(o, size=new), f"{o.size} -> {new}"
    elif kind == "wrong_direction":
        flip = {"move_left": "move_right", "move_right": "move_left", "move_up": "move_down", "move_down": "move_up"}
        objs[target], change = replace(o, motion=flip[o.motion]), f"{o.motion} -> {flip[o.motion]}"
    elif kind == "no_bounce":
        objs[target], change = replace(o, motion="fall_bounce"), "still scored as fall_bounce"
    elif kind == "reversed_spin":
        new = "spin_ccw" if o.motion == "spin_cw" else "spin_cw"
        objs[target], change = replace(o, motion=new), f"{o.motion} -> {new}"
    elif kind == "grow_vs_shrink":
        new = "shrink" if o.motion == "grow" else "grow"
        objs[target], change = replace(o, motion=new), f"{o.motion} -> {new}"
    elif kind == "wrong_motion":
        options = [m for m in vocab.MOTIONS if m not in (o.motion, "collide")
                   and not (o.shape == "circle" and m in vocab.SPINS)]
        new = str(rng.choice(options))
        objs[target], change = replace(o, motion=new), f"{o.motion} -> {new}"
        if o.motion == "collide":  # the partner cannot collide alone: it now claims to be still
            objs = [replace(p, motion="still") if p.motion == "collide" and i != target else p
                    for i, p in enumerate(objs)]
    elif kind == "wrong_background":
        new = str(rng.choice([b for b in vocab.BACKGROUNDS if b != claim.background]))
        claim, change = replace(claim, background=new), f"{truth.background} -> {new}"
    elif kind == "missing_object":  # the video lacks an object the description names
        keep = [i for i in range(len(objs)) if i != target]
        shown = replace(truth, objects=tuple(truth.objects[i] for i in keep))
        traj = traj[:, keep]
        change = f"video lacks the {o.label()}"
    else:  # extra_object: the video has an object the description does not name
        objs.pop(target)
        change = f"description lacks the {o.label()}"
    frames = render(shown, traj)
    return Pair(kind, truth, frames, replace(claim, objects=tuple(objs)), change)


def _target(scene: Scene, combo: str, rng: np.random.Generator, removing: bool) -> int | None:
    """Index of the object to change: one matching the kind's combination; when removing an
    object, never half of a colliding pair (the other half's physics would change too)."""
    objs = scene.objects
    if combo:
        c = parse_combo(combo)
        options = [i for i, o in enumerate(objs) if c.matches_object(o)]
    elif removing:
        options = [i for i, o in enumerate(objs) if o.motion != "collide"]
    else:
        options = list(range(len(objs)))
    return int(rng.choice(options)) if options else None
