"""Scenes: what is in a clip, as dataclasses with JSON (de)serialisation and validation.

A `Scene` is either a *description* (objects with shape, colour, size and motion only; what a
caption gives) or a *realized* scene (also frame size, frame count and each object's initial
state), which `physics.simulate` turns into exact trajectories. `sampler.py` draws realized scenes.

JSON uses the identifiers of spec section 6. A user mistake in a JSON scene raises `InvalidInput`
naming the offending key, e.g. `objects[1].color: unknown colour 'violet' (one of red, ...)`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from openreel.errors import InvalidInput
from openreel.world import vocab


@dataclass(frozen=True)
class SceneObject:
    shape: str
    color: str
    size: str = "medium"
    motion: str = "still"
    # Initial state (normalized units, per second); None for x/y in a description.
    x: float | None = None
    y: float | None = None
    vx: float = 0.0
    vy: float = 0.0
    angle: float = 0.0  # degrees, clockwise on screen positive

    @property
    def radius(self) -> float:
        """Circumradius as a fraction of the frame's shorter side, at scale 1."""
        return vocab.SIZES[self.size]

    @property
    def placed(self) -> bool:
        return self.x is not None and self.y is not None

    def describe(self) -> "SceneObject":
        return SceneObject(self.shape, self.color, self.size, self.motion)

    def label(self) -> str:
        """'small red circle (fall_bounce)'; medium is left out as in captions."""
        size = "" if self.size == "medium" else self.size + " "
        return f"{size}{self.color} {self.shape} ({self.motion})"


@dataclass(frozen=True)
class Scene:
    objects: tuple[SceneObject, ...]
    background: str | None = "black"  # None: unconstrained (a caption that names none)
    width: int | None = None
    height: int | None = None
    fps: int = vocab.FPS
    frames: int | None = None

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        if self.frames is None:
            raise ValueError("scene has no frame count")
        return (self.frames - 1) / self.fps

    @property
    def realized(self) -> bool:
        return (
            self.width is not None
            and self.height is not None
            and self.frames is not None
            and all(o.placed for o in self.objects)
        )

    def describe(self) -> "Scene":
        """The scene as a caption would give it: no frame geometry, no initial state."""
        return Scene(tuple(o.describe() for o in self.objects), self.background, fps=self.fps)

    def by_color(self, color: str) -> SceneObject:
        for o in self.objects:
            if o.color == color:
                return o
        raise KeyError(color)

    def to_dict(self, trajectory=None) -> dict[str, Any]:
        """JSON-ready dict; `trajectory` (T, N, 4) is written as spec section 6 shows."""
        out: dict[str, Any] = {"background": self.background, "fps": self.fps}
        if self.frames is not None:
            out["frames"] = self.frames
        if self.width is not None:
            out["width"], out["height"] = self.width, self.height
        out["objects"] = [_object_dict(o) for o in self.objects]
        if trajectory is not None:
            out["trajectory"] = trajectory_to_json(trajectory)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "Scene":
        return scene_from_dict(data)


def _object_dict(o: SceneObject) -> dict[str, Any]:
    d = asdict(o)
    if not o.placed:
        for key in ("x", "y", "vx", "vy", "angle"):
            d.pop(key)
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}


def trajectory_to_json(trajectory) -> list[list[dict[str, float]]]:
    """(T, N, 4) array of x, y, angle, scale -> one list of per-object dicts per frame."""
    return [
        [
            {"x": round(float(x), 6), "y": round(float(y), 6), "angle": round(float(a), 4), "scale": round(float(s), 6)}
            for x, y, a, s in frame
        ]
        for frame in trajectory
    ]


def trajectory_from_json(data) -> np.ndarray:
    """Inverse of trajectory_to_json: (T, N, 4) float64."""
    return np.array([[[o["x"], o["y"], o["angle"], o["scale"]] for o in frame] for frame in data], dtype=np.float64)


# -- validation --------------------------------------------------------------------------------

_SCENE_KEYS = {"background", "fps", "frames", "width", "height", "objects", "trajectory", "spec_version"}
_OBJECT_KEYS = {"shape", "color", "size", "motion", "x", "y", "vx", "vy", "angle"}


def _choice(value: Any, allowed, key: str, what: str) -> str:
    if value not in allowed:
        raise InvalidInput(key, f"unknown {what} {value!r} (one of {', '.join(allowed)})")
    return value


def _number(value: Any, key: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(key, f"must be a number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidInput(key, f"must be in [{lo}, {hi}], got {value}")
    return float(value)


def _integer(value: Any, key: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise InvalidInput(key, f"must be an integer >= {lo}, got {value!r}")
    return value


def object_from_dict(data: Any, key: str = "object") -> SceneObject:
    if not isinstance(data, dict):
        raise InvalidInput(key, f"must be an object, got {type(data).__name__}")
    unknown = sorted(set(data) - _OBJECT_KEYS)
    if unknown:
        raise InvalidInput(f"{key}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(_OBJECT_KEYS))})")
    for required in ("shape", "color"):
        if required not in data:
            raise InvalidInput(f"{key}.{required}", "missing")
    shape = _choice(data["shape"], vocab.SHAPES, f"{key}.shape", "shape")
    color = _choice(data["color"], tuple(vocab.COLORS), f"{key}.color", "colour")
    size = _choice(data.get("size", "medium"), tuple(vocab.SIZES), f"{key}.size", "size")
    motion = _choice(data.get("motion", "still"), vocab.MOTIONS, f"{key}.motion", "motion")
    state: dict[str, float | None] = {}
    for name in ("x", "y"):
        state[name] = None if data.get(name) is None else _number(data[name], f"{key}.{name}", 0.0, 1.0)
    if (state["x"] is None) != (state["y"] is None):
        raise InvalidInput(f"{key}.{'y' if state['y'] is None else 'x'}", "x and y go together")
    for name in ("vx", "vy"):
        state[name] = _number(data.get(name, 0.0), f"{key}.{name}", -10.0, 10.0)
    state["angle"] = _number(data.get("angle", 0.0), f"{key}.angle")
    return SceneObject(shape, color, size, motion, **state)


def scene_from_dict(data: Any) -> Scene:
    """Parse and validate a JSON scene (a description or a realized scene)."""
    if isinstance(data, dict) and "scene" in data and "objects" not in data:
        data = data["scene"]  # a metadata.jsonl line
    if not isinstance(data, dict):
        raise InvalidInput("scene", f"must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _SCENE_KEYS)
    if unknown:
        raise InvalidInput(unknown[0], f"unknown scene key (allowed: {', '.join(sorted(_SCENE_KEYS))})")
    if "objects" not in data:
        raise InvalidInput("objects", "missing")
    if not isinstance(data["objects"], list):
        raise InvalidInput("objects", "must be a list")
    objects = tuple(object_from_dict(o, f"objects[{i}]") for i, o in enumerate(data["objects"]))
    background = data.get("background")
    if background is not None:
        _choice(background, tuple(vocab.BACKGROUNDS), "background", "background")
    fps = _integer(data.get("fps", vocab.FPS), "fps", 1)
    frames = None if data.get("frames") is None else _integer(data["frames"], "frames", 2)
    width = None if data.get("width") is None else _integer(data["width"], "width", 1)
    height = None if data.get("height") is None else _integer(data["height"], "height", 1)
    if (width is None) != (height is None):
        raise InvalidInput("height" if height is None else "width", "width and height go together")
    scene = Scene(objects, background, width, height, fps, frames)
    validate(scene)
    return scene


def validate(scene: Scene) -> Scene:
    """World rules every scene obeys (spec sections 2-4); raises InvalidInput naming the rule."""
    n = len(scene.objects)
    if not vocab.MIN_OBJECTS <= n <= vocab.MAX_OBJECTS:
        raise InvalidInput("objects", f"a scene has {vocab.MIN_OBJECTS} to {vocab.MAX_OBJECTS} objects, got {n}")
    colors = [o.color for o in scene.objects]
    for c in set(colors):
        if colors.count(c) > 1:
            raise InvalidInput("objects", f"two objects are {c}; colour identifies an object, so colours must differ")
    for i, o in enumerate(scene.objects):
        if o.shape == "circle" and o.motion in vocab.SPINS:
            raise InvalidInput(f"objects[{i}].motion", "a circle cannot spin (its rotation is invisible)")
    colliders = [i for i, o in enumerate(scene.objects) if o.motion == "collide"]
    if len(colliders) not in (0, 2):
        raise InvalidInput("objects", f"'collide' takes exactly two objects, got {len(colliders)}")
    placed = [o.placed for o in scene.objects]
    if any(placed) and not all(placed):
        raise InvalidInput("objects", "either every object has x and y or none has")
    if len(colliders) == 2 and all(placed):
        a, b = (scene.objects[i] for i in colliders)
        if abs(a.y - b.y) > 1e-9 or a.vy or b.vy:
            raise InvalidInput(
                f"objects[{colliders[1]}].y", "colliding objects share one horizontal line (same y, vy 0)"
            )
    return scene


def frame_size(size: int, aspect: str) -> tuple[int, int]:
    """(width, height) with the shorter side `size`; both even (H.264 yuv420p needs it)."""
    if aspect not in vocab.ASPECTS:
        raise InvalidInput("aspect", f"unknown aspect ratio {aspect!r} (one of {', '.join(vocab.ASPECTS)})")
    aw, ah = vocab.ASPECTS[aspect]
    if aw >= ah:
        return 2 * round(size * aw / ah / 2), size
    return size, 2 * round(size * ah / aw / 2)


@dataclass(frozen=True)
class Combo:
    """A partial object description used for hold-outs: 'purple triangle + spin'."""

    text: str
    color: str | None = None
    shape: str | None = None
    size: str | None = None
    motions: frozenset[str] | None = None
    background: str | None = None

    def matches_object(self, o: SceneObject) -> bool:
        return (
            (self.color is None or o.color == self.color)
            and (self.shape is None or o.shape == self.shape)
            and (self.size is None or o.size == self.size)
            and (self.motions is None or o.motion in self.motions)
        )

    def matches(self, scene: Scene) -> bool:
        if self.background is not None and scene.background != self.background:
            return False
        return any(self.matches_object(o) for o in scene.objects)


_SHAPE_WORDS = {"circle": "circle", "ball": "circle", "square": "square", "box": "square", "triangle": "triangle"}


def parse_combo(text: str) -> Combo:
    """'purple triangle + spin' -> Combo; words are identifiers (or ball/box, motion families)."""
    fields: dict[str, Any] = {}
    words = text.replace("+", " ").replace(",", " ").lower().split()
    if not words:
        raise InvalidInput("holdout", "empty combination")

    def put(name: str, value: Any, word: str) -> None:
        if name in fields:
            raise InvalidInput("holdout", f"{text!r} names two {name}s ({word!r})")
        fields[name] = value

    for w in words:
        if w in vocab.COLORS:
            put("color", w, w)
        elif w in _SHAPE_WORDS:
            put("shape", _SHAPE_WORDS[w], w)
        elif w in vocab.SIZES:
            put("size", w, w)
        elif w in vocab.BACKGROUNDS:
            put("background", w, w)
        elif w in vocab.MOTIONS or w in vocab.MOTION_FAMILIES:
            put("motions", frozenset(vocab.expand_motion(w)), w)
        else:
            raise InvalidInput("holdout", f"unknown word {w!r} in {text!r}")
    combo = Combo(text=text.strip(), **fields)
    if combo.shape == "circle" and combo.motions is not None and combo.motions <= set(vocab.SPINS):
        raise InvalidInput("holdout", f"{text!r} can never occur: circles do not spin")
    return combo
