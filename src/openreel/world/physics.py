"""Exact physics of the shapes world (spec section 4), in closed form.

Positions are normalized (x / width, y / height, y down); sizes are fractions of the shorter side,
so an object's half-extent in x is R * shorter / width. Every motion is integrated analytically:
moves clamp at walls, bounces fold the straight-line path into the box, fall-and-bounce chains
parabolas with restitution, and an equal-mass collision is two "ghost" points that pass through
each other (swapping velocities of equal masses is the same as exchanging labels).
"""

from __future__ import annotations

import math

import numpy as np

from openreel.world import vocab
from openreel.world.scene import Scene, SceneObject


def times(scene: Scene) -> np.ndarray:
    return np.arange(scene.frames) / scene.fps  # (T,)


def extents(obj: SceneObject, scene: Scene, scale: float = 1.0) -> tuple[float, float, float]:
    """Normalized half-extents (left/right, up, down) at angle 0."""
    lr, up, down = vocab.SHAPE_EXTENTS[obj.shape]
    r = obj.radius * scale * min(scene.width, scene.height)  # pixels
    return lr * r / scene.width, up * r / scene.height, down * r / scene.height


def bounding_extents(obj: SceneObject, scene: Scene) -> tuple[float, float, float]:
    """Half-extents that hold over the whole clip: circumcircle when spinning, largest scale when growing."""
    scale = vocab.max_scale(obj.motion)
    if obj.motion in vocab.SPINS:
        r = obj.radius * scale * min(scene.width, scene.height)
        return r / scene.width, r / scene.height, r / scene.height
    return extents(obj, scene, scale)


def fold(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Straight-line motion reflected elastically between lo and hi (a triangle wave)."""
    span = hi - lo
    if span <= 0:
        return np.full_like(u, lo)
    s = np.mod(u - lo, 2 * span)
    return lo + np.where(s <= span, s, 2 * span - s)


def bounce_height(y0: float, vy0: float, floor: float, t: np.ndarray,
                  g: float = vocab.GRAVITY, e: float = vocab.RESTITUTION) -> np.ndarray:
    """Height (y down) of a ball dropped from y0 with velocity vy0 onto a floor at y = floor.

    Each contact multiplies the speed by e; after the geometric series of bounces sums up
    (finite time, e < 1) the ball rests on the floor.
    """
    y = np.full_like(t, floor, dtype=np.float64)
    # first flight: y0 + vy0 t + g t^2 / 2 = floor
    gap = floor - y0
    t_hit = (-vy0 + math.sqrt(vy0 * vy0 + 2 * g * gap)) / g if gap > 0 else 0.0
    first = t < t_hit
    y[first] = y0 + vy0 * t[first] + 0.5 * g * t[first] ** 2
    v = vy0 + g * t_hit  # downward speed at the first contact
    start = t_hit
    while v * e > 1e-9 and start <= t[-1]:
        v *= e
        flight = 2 * v / g
        seg = (t >= start) & (t < start + flight)
        dt = t[seg] - start
        y[seg] = floor - v * dt + 0.5 * g * dt**2
        start += flight
    return y


def contact_distance(a: SceneObject, b: SceneObject, scene: Scene) -> float:
    """Centre distance (normalized x) at which a and b, side by side on one line, first touch.

    It is the widest row of the pair: max over heights y of (half-width of a at y + of b at y).
    """
    s = min(scene.width, scene.height)
    ra, rb = a.radius * s, b.radius * s
    ys = np.linspace(-max(ra, rb), max(ra, rb), 20001)
    width = _half_width(a.shape, ra, ys) + _half_width(b.shape, rb, ys)
    return float(np.max(width)) / scene.width


def _half_width(shape: str, r: float, y: np.ndarray) -> np.ndarray:
    """Half-width of a shape (angle 0, circumradius r) on the row at height y below its centre."""
    if shape == "circle":
        w = np.sqrt(np.clip(r * r - y * y, 0, None))
        inside = np.abs(y) <= r
    elif shape == "square":
        h = r / math.sqrt(2)
        w = np.full_like(y, h)
        inside = np.abs(y) <= h
    else:  # triangle pointing up: apex at -r, base at r/2
        w = (y + r) / math.sqrt(3)
        inside = (y >= -r) & (y <= r / 2)
    return np.where(inside, w, -np.inf)


def simulate(scene: Scene, t: np.ndarray | None = None) -> np.ndarray:
    """Ground-truth trajectory (T, N, 4): x, y, angle (degrees, clockwise +), scale per object."""
    if not scene.realized:
        raise ValueError("simulate needs a realized scene (frame size, frames, initial positions)")
    t = times(scene) if t is None else np.asarray(t, dtype=np.float64)
    duration = scene.duration
    out = np.zeros((len(t), len(scene.objects), 4))
    for i, obj in enumerate(scene.objects):
        out[:, i, 0], out[:, i, 1] = _path(obj, scene, t)
        out[:, i, 2] = obj.angle + vocab.SPINS.get(obj.motion, 0.0) * vocab.SPIN_RATE * t
        out[:, i, 3] = vocab.scale_at(obj.motion, t, duration)
    pair = [i for i, o in enumerate(scene.objects) if o.motion == "collide"]
    if pair:
        out[:, pair, 0] = _collide_x(scene, pair, t)
    return out


def _path(obj: SceneObject, scene: Scene, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ex, eu, ed = extents(obj, scene)
    x = obj.x + obj.vx * t
    y = obj.y + obj.vy * t
    if obj.motion in vocab.MOVES:  # stop at the wall
        return np.clip(x, ex, 1 - ex), np.clip(y, eu, 1 - ed)
    if obj.motion in ("bounce_around", "collide"):  # elastic walls (collide's x is redone pairwise)
        return fold(x, ex, 1 - ex), fold(y, eu, 1 - ed)
    if obj.motion == "fall_bounce":
        return fold(x, ex, 1 - ex), bounce_height(obj.y, obj.vy, 1 - ed, t)
    return np.full_like(t, obj.x), np.full_like(t, obj.y)  # still, spins, grow, shrink


def _collide_x(scene: Scene, pair: list[int], t: np.ndarray) -> np.ndarray:
    """x of two equal-mass objects on one line: elastic collisions with each other and the walls.

    Shrink the gap between them to zero (u2 = xB - d - lA) and the walls inward by their
    extents; then the two become points on [0, L] that swap velocities on contact, which is the
    same as passing through each other. Each ghost reflects at the walls; sorting gives who is where.
    """
    i, j = pair if scene.objects[pair[0]].x <= scene.objects[pair[1]].x else pair[::-1]
    a, b = scene.objects[i], scene.objects[j]
    la = extents(a, scene)[0]
    rb = extents(b, scene)[0]
    d = contact_distance(a, b, scene)
    length = 1 - rb - d - la
    g1 = fold(a.x - la + a.vx * t, 0.0, length)
    g2 = fold(b.x - d - la + b.vx * t, 0.0, length)
    u1, u2 = np.minimum(g1, g2), np.maximum(g1, g2)
    xs = {i: u1 + la, j: u2 + d + la}
    return np.stack([xs[k] for k in pair], axis=1)  # (T, 2)


def first_contact_time(y0: float, floor: float, g: float = vocab.GRAVITY) -> float:
    """Closed form used by the sampler and tests: t = sqrt(2 h / g) from rest."""
    return math.sqrt(2 * max(floor - y0, 0.0) / g)
