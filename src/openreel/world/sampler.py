"""Seeded scene sampler with controllable distributions and hold-outs.

`sample_scene(rng, dist)` draws a realized scene: first its *layout* (how many objects, their
motions, shapes, colours, sizes; background, aspect ratio, duration) from `SceneDist`'s weights,
then initial states that make every motion visible within the clip (a move travels for at least
a second before the wall, a fall reaches the floor with half a second left, a bounce hits a wall,
a collision happens), and rejects layouts whose objects would overlap at any frame (bounding
circles, 3 % margin) except a colliding pair, which touches by design. So the world has no
occlusion, and the weights are those of the layout *before* rejection: busy layouts (three
bouncing objects in a small frame) are slightly rarer than their weights say.

Hold-outs: `SceneDist.holdout` lists combinations ("purple triangle + spin"). With split "train"
no object of a sampled scene matches any of them; with split "heldout" one object of every scene
matches one of them (chosen uniformly), and the rest of the scene is drawn as usual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openreel.errors import InvalidInput
from openreel.world import physics, vocab
from openreel.world.scene import Combo, Scene, SceneObject, frame_size, parse_combo, validate


def _uniform(keys) -> dict:
    return {k: 1.0 for k in keys}


@dataclass
class SceneDist:
    """Weights of everything the sampler draws (need not sum to 1; zero or absent = never)."""

    objects: dict[int, float] = field(default_factory=lambda: {1: 0.4, 2: 0.35, 3: 0.25})
    motions: dict[str, float] = field(default_factory=lambda: _uniform(vocab.MOTIONS))
    shapes: dict[str, float] = field(default_factory=lambda: _uniform(vocab.SHAPES))
    colors: dict[str, float] = field(default_factory=lambda: _uniform(vocab.COLORS))
    sizes: dict[str, float] = field(default_factory=lambda: _uniform(vocab.SIZES))
    backgrounds: dict[str, float] = field(default_factory=lambda: _uniform(vocab.BACKGROUNDS))
    aspects: dict[str, float] = field(default_factory=lambda: {"1:1": 1.0})
    seconds: dict[float, float] = field(default_factory=lambda: {2.0: 1.0})
    size: int = 256  # shorter side in pixels
    holdout: tuple[Combo, ...] = ()
    split: str = "train"  # "train": exclude hold-out combos; "heldout": only them

    def __post_init__(self) -> None:
        self.holdout = tuple(parse_combo(c) if isinstance(c, str) else c for c in self.holdout)
        self.objects = {int(k): float(v) for k, v in self.objects.items()}
        self.seconds = {float(k): float(v) for k, v in self.seconds.items()}
        for name, allowed in (
            ("objects", range(vocab.MIN_OBJECTS, vocab.MAX_OBJECTS + 1)),
            ("motions", vocab.MOTIONS),
            ("shapes", vocab.SHAPES),
            ("colors", vocab.COLORS),
            ("sizes", vocab.SIZES),
            ("backgrounds", vocab.BACKGROUNDS),
            ("aspects", vocab.ASPECTS),
        ):
            weights = getattr(self, name)
            for key, w in weights.items():
                if key not in allowed:
                    raise InvalidInput(name, f"unknown value {key!r} (one of {', '.join(map(str, allowed))})")
                if not (w >= 0 and math.isfinite(w)):
                    raise InvalidInput(name, f"weight of {key!r} must be >= 0, got {w}")
            if sum(weights.values()) <= 0:
                raise InvalidInput(name, "needs at least one positive weight")
        if sum(self.colors[c] > 0 for c in self.colors) < max(k for k, w in self.objects.items() if w > 0):
            raise InvalidInput("colors", "fewer colours than objects per clip")
        for s in self.seconds:
            if not 1.0 <= s <= 10.0 or abs(s * vocab.FPS - round(s * vocab.FPS)) > 1e-9:
                raise InvalidInput("seconds", f"a duration is 1 to 10 s in steps of 1/{vocab.FPS} s, got {s}")
        if self.size < 64:
            raise InvalidInput("size", f"the shorter side is at least 64 pixels, got {self.size}")
        if self.split not in ("train", "heldout"):
            raise InvalidInput("split", f"must be 'train' or 'heldout', got {self.split!r}")
        if self.split == "heldout" and not self.holdout:
            raise InvalidInput("holdout", "split 'heldout' needs at least one hold-out combination")

    def to_dict(self) -> dict[str, Any]:
        return {
            "objects": {str(k): v for k, v in self.objects.items()},
            "motions": self.motions, "shapes": self.shapes, "colors": self.colors, "sizes": self.sizes,
            "backgrounds": self.backgrounds, "aspects": self.aspects,
            "seconds": {str(k): v for k, v in self.seconds.items()},
            "size": self.size, "holdout": [c.text for c in self.holdout], "split": self.split,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SceneDist":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(unknown[0], f"unknown distribution key (allowed: {', '.join(sorted(known))})")
        return cls(**data)


def _pick(rng: np.random.Generator, weights: dict, exclude=()):
    keys = [k for k, w in weights.items() if w > 0 and k not in exclude]
    if not keys:
        return None
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[rng.choice(len(keys), p=p / p.sum())]


# -- layout: what is in the clip ------------------------------------------------------------------


def _layout(rng: np.random.Generator, dist: SceneDist, forced: Combo | None) -> list[dict] | None:
    n = _pick(rng, dist.objects)
    motions: list[str] = []
    if forced is not None and forced.motions is not None:
        m = str(rng.choice(sorted(forced.motions)))
        if m == "collide" and n < 2:
            n = 2 if dist.objects.get(2, 0) > 0 or dist.objects.get(3, 0) == 0 else 3
        motions.append(m)
        if m == "collide":
            motions.append("collide")
    while len(motions) < n:
        last_slot = len(motions) == n - 1
        exclude = ("collide",) if last_slot or "collide" in motions else ()
        if not motions and forced is not None and forced.shape == "circle":
            exclude += tuple(vocab.SPINS)  # the forced first object is a circle
        m = _pick(rng, dist.motions, exclude)
        if m is None:
            return None
        motions += ["collide", "collide"] if m == "collide" else [m]
    objects: list[dict] = []
    used: set[str] = set()
    for i, m in enumerate(motions):
        f = forced if i == 0 else None
        spin = m in vocab.SPINS
        shape = f.shape if f and f.shape else _pick(rng, dist.shapes, ("circle",) if spin else ())
        color = f.color if f and f.color else _pick(rng, dist.colors, used)
        size = f.size if f and f.size else _pick(rng, dist.sizes)
        if shape is None or color is None or size is None or color in used:
            return None
        used.add(color)
        objects.append({"shape": shape, "color": color, "size": size, "motion": m})
    return objects


# -- placement: initial states that make each motion visible -------------------------------------


def _place(rng: np.random.Generator, scene: Scene) -> Scene | None:
    objs = list(scene.objects)
    pair = [i for i, o in enumerate(objs) if o.motion == "collide"]
    for i, o in enumerate(objs):
        if i not in pair:
            placed = _place_one(rng, o, scene)
            if placed is None:
                return None
            objs[i] = placed
    if pair:
        placed_pair = _place_pair(rng, [objs[i] for i in pair], scene)
        if placed_pair is None:
            return None
        for i, o in zip(pair, placed_pair):
            objs[i] = o
    return Scene(tuple(objs), scene.background, scene.width, scene.height, scene.fps, scene.frames)


def _place_one(rng: np.random.Generator, o: SceneObject, scene: Scene) -> SceneObject | None:
    ex, eu, ed = physics.bounding_extents(o, scene)
    xlo, xhi, ylo, yhi = ex, 1 - ex, eu, 1 - ed
    if xlo >= xhi or ylo >= yhi:
        return None
    dur = scene.duration
    m = o.motion
    x, y = rng.uniform(xlo, xhi), rng.uniform(ylo, yhi)
    if m in vocab.MOVES:
        speed = vocab.MOVE_SPEED * rng.uniform(1 - vocab.MOVE_SPEED_JITTER, 1 + vocab.MOVE_SPEED_JITTER)
        dx, dy = vocab.MOVES[m]
        lo, hi = (xlo, xhi) if dx else (ylo, yhi)
        direction = dx or dy
        room = min(speed * min(dur, 1.0), hi - lo)  # at least a second of travel before the wall
        start = rng.uniform(lo, hi - room) if direction > 0 else rng.uniform(lo + room, hi)
        if dx:
            return _with_state(o, start, y, dx * speed, 0.0)
        return _with_state(o, x, start, 0.0, dy * speed)
    if m == "fall_bounce":
        # first contact after at least ~0.5 s of fall and at least 0.5 s before the end
        floor, g = yhi, vocab.GRAVITY
        h_max = min(floor - ylo, 0.5 * g * (dur - 0.5) ** 2)
        h_min = min(0.25, h_max)
        if h_max < 0.05:
            return None
        return _with_state(o, x, floor - rng.uniform(h_min, h_max), 0.0, 0.0)
    if m == "bounce_around":
        for _ in range(100):
            theta = rng.uniform(0, 2 * math.pi)
            vx, vy = vocab.BOUNCE_SPEED * math.cos(theta), vocab.BOUNCE_SPEED * math.sin(theta)
            x, y = rng.uniform(xlo, xhi), rng.uniform(ylo, yhi)
            hits = [(_hit_time(x, vx, xlo, xhi), abs(vx)), (_hit_time(y, vy, ylo, yhi), abs(vy))]
            t_hit, v_hit = min(hits)
            # a visible reflection: not at the very start, with half a second left to see it
            if 0.25 <= t_hit <= dur - 0.5 and v_hit >= 0.1:
                return _with_state(o, x, y, vx, vy)
        return None
    angle = rng.uniform(0, 360) if m in vocab.SPINS else 0.0
    return _with_state(o, x, y, 0.0, 0.0, angle)


def _hit_time(u: float, v: float, lo: float, hi: float) -> float:
    if v > 1e-12:
        return (hi - u) / v
    if v < -1e-12:
        return (u - lo) / -v
    return math.inf


def _place_pair(rng: np.random.Generator, pair: list[SceneObject], scene: Scene) -> list[SceneObject] | None:
    """Two objects on one horizontal line moving toward each other; contact within the clip."""
    left_first = rng.random() < 0.5
    a, b = pair if left_first else pair[::-1]
    la, ua, da = physics.extents(a, scene)
    rb, ub, db = physics.extents(b, scene)
    ylo, yhi = max(ua, ub), 1 - max(da, db)
    d = physics.contact_distance(a, b, scene)
    gap_max = min(1 - rb - la - d, 2 * vocab.COLLIDE_SPEED * (scene.duration - 0.5))
    gap_min = 2 * vocab.COLLIDE_SPEED * 0.25  # contact no earlier than 0.25 s
    if ylo >= yhi or gap_max < gap_min:
        return None
    y = rng.uniform(ylo, yhi)
    gap = rng.uniform(gap_min, gap_max)
    xa = rng.uniform(la, 1 - rb - d - gap)
    xb = xa + d + gap
    placed = [_with_state(a, xa, y, vocab.COLLIDE_SPEED, 0.0), _with_state(b, xb, y, -vocab.COLLIDE_SPEED, 0.0)]
    return placed if left_first else placed[::-1]


def _with_state(o: SceneObject, x: float, y: float, vx: float, vy: float, angle: float = 0.0) -> SceneObject:
    return SceneObject(o.shape, o.color, o.size, o.motion, float(x), float(y), float(vx), float(vy), float(angle))


def overlaps(scene: Scene, traj: np.ndarray, margin: float = 0.03) -> bool:
    """Do any two objects' bounding circles come within `margin` (of the shorter side) at any frame?"""
    s = min(scene.width, scene.height)
    pos = traj[:, :, :2] * np.array([scene.width / s, scene.height / s])  # (T, N, 2) shorter-side units
    radius = np.array([o.radius for o in scene.objects]) * traj[:, :, 3]  # (T, N)
    n = len(scene.objects)
    for i in range(n):
        for j in range(i + 1, n):
            if scene.objects[i].motion == "collide" and scene.objects[j].motion == "collide":
                continue  # they touch by design; physics keeps them apart
            dist = np.linalg.norm(pos[:, i] - pos[:, j], axis=-1)
            if np.any(dist < radius[:, i] + radius[:, j] + margin):
                return True
    return False


# -- public --------------------------------------------------------------------------------------


def sample_scene(rng: np.random.Generator, dist: SceneDist | None = None) -> Scene:
    """Draw one realized scene. Deterministic for a given generator state."""
    dist = dist or SceneDist()
    for _ in range(1000):
        forced = None
        if dist.split == "heldout":
            forced = dist.holdout[rng.integers(len(dist.holdout))]
        background = (forced.background if forced and forced.background else None) or _pick(rng, dist.backgrounds)
        aspect = _pick(rng, dist.aspects)
        seconds = _pick(rng, dist.seconds)
        objects = _layout(rng, dist, forced)
        if objects is None:
            continue
        order = rng.permutation(len(objects))
        width, height = frame_size(dist.size, aspect)
        scene = Scene(
            tuple(SceneObject(**objects[k]) for k in order), background, width, height,
            vocab.FPS, vocab.frame_count(seconds),
        )
        if dist.split == "train" and any(c.matches(scene) for c in dist.holdout):
            continue
        placed = realize(scene, rng, tries=20, strict=False)
        if placed is not None:
            return placed
    raise InvalidInput("dist", "could not sample a scene in 1000 tries: the distribution or hold-outs leave "
                               "nothing to draw, or its objects do not fit the frame without overlapping")


def realize(scene: Scene, rng: np.random.Generator, *, width: int | None = None, height: int | None = None,
            seconds: float | None = None, tries: int = 200, strict: bool = True) -> Scene | None:
    """Give a description (e.g. a parsed caption) a frame size, duration and initial states.

    A missing background is drawn uniformly. Raises InvalidInput when `strict` and no
    non-overlapping placement is found in `tries` attempts, else returns None.
    """
    width = width or scene.width or 256
    height = height or scene.height or width
    frames = vocab.frame_count(seconds) if seconds else (scene.frames or vocab.frame_count(2.0))
    background = scene.background or _pick(rng, _uniform(vocab.BACKGROUNDS))
    base = Scene(tuple(o.describe() for o in scene.objects), background, width, height, scene.fps, frames)
    validate(base)
    for _ in range(tries):
        placed = _place(rng, base)
        if placed is not None and not overlaps(placed, physics.simulate(placed)):
            return placed
    if strict:
        raise InvalidInput("scene", f"cannot place these objects without overlap in {width}x{height} "
                                    f"for {base.duration:g} s; try fewer or smaller objects or a longer clip")
    return None
