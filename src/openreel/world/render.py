"""Numpy renderer: anti-aliased by analytic coverage of signed distance, deterministic.

Each object is drawn in a small window around it, for all frames at once: the signed distance
(in pixels) from every pixel centre to the shape's edge gives a coverage of clip(0.5 - d, 0, 1),
which is exact for straight edges crossing a pixel and close for corners; coverage 1 inside,
so interior pixels carry the palette colour exactly. Objects are composited over the background
in scene order ("over" with the coverage as alpha), in float32, then rounded once.
"""

from __future__ import annotations

import math

import numpy as np

from openreel.world import vocab
from openreel.world.scene import Scene

_SQRT3_2 = math.sqrt(3) / 2
# Outward edge normals of the up-pointing triangle (y down): base, upper-left, upper-right.
_TRI_NORMALS = np.array([[0.0, 1.0], [-_SQRT3_2, -0.5], [_SQRT3_2, -0.5]])


def signed_distance(shape: str, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) at offsets (u, v) from the centre, shape at angle 0.

    r is the circumradius, broadcastable against u and v. Circle and square are exact; the
    triangle uses its three edge half-planes (exact inside and along edges, a touch short of
    the true distance just outside a corner, where it only widens the anti-aliasing by < 0.5 px).
    """
    if shape == "circle":
        return np.sqrt(u * u + v * v) - r
    if shape == "square":
        h = r / math.sqrt(2)
        qu, qv = np.abs(u) - h, np.abs(v) - h
        outside = np.sqrt(np.maximum(qu, 0) ** 2 + np.maximum(qv, 0) ** 2)
        return outside + np.minimum(np.maximum(qu, qv), 0)
    if shape == "triangle":
        planes = [nu * u + nv * v for nu, nv in _TRI_NORMALS]
        return np.maximum(np.maximum(planes[0], planes[1]), planes[2]) - r / 2
    raise ValueError(f"unknown shape {shape!r}")


def coverage(shape: str, cx: np.ndarray, cy: np.ndarray, r: np.ndarray, angle: np.ndarray,
             size: int, x0: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """Coverage (T, size, size) of a window whose top-left pixel is (x0, y0) in each frame.

    cx, cy: centre in pixels (pixel j spans [j, j + 1)); angle in degrees, clockwise on screen.
    """
    grid = np.arange(size, dtype=np.float64) + 0.5
    du = grid[None, None, :] + (x0 - cx)[:, None, None]  # (T, 1, size)
    dv = grid[None, :, None] + (y0 - cy)[:, None, None]  # (T, size, 1)
    theta = np.deg2rad(angle)[:, None, None]
    c, s = np.cos(theta), np.sin(theta)
    # Undo the object's rotation: sample the angle-0 shape at the point rotated by -angle.
    u = du * c + dv * s
    v = -du * s + dv * c
    d = signed_distance(shape, u, v, r[:, None, None])
    return np.clip(0.5 - d, 0.0, 1.0).astype(np.float32)


def render(scene: Scene, trajectory: np.ndarray, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 of a realized scene along its trajectory (T, N, 4).

    The size defaults to the scene's; another size must keep its aspect ratio (within rounding).
    """
    width, height = width or scene.width, height or scene.height
    if scene.width and abs(width / height - scene.width / scene.height) > 0.02:
        raise ValueError(f"render size {width}x{height} does not keep the scene's aspect {scene.width}x{scene.height}")
    frames, n = trajectory.shape[:2]
    if n != len(scene.objects):
        raise ValueError(f"trajectory has {n} objects, scene has {len(scene.objects)}")
    shorter = min(width, height)
    canvas = np.empty((frames, height, width, 3), np.float32)  # (T, H, W, 3)
    canvas[:] = np.array(vocab.BACKGROUNDS[scene.background or "black"], np.float32)
    for i, obj in enumerate(scene.objects):
        cx = trajectory[:, i, 0] * width
        cy = trajectory[:, i, 1] * height
        r = obj.radius * shorter * trajectory[:, i, 3]
        half = int(math.ceil(r.max())) + 2
        x0 = np.floor(cx).astype(np.int64) - half
        y0 = np.floor(cy).astype(np.int64) - half
        size = 2 * half + 1
        alpha = coverage(obj.shape, cx, cy, r, trajectory[:, i, 2], size, x0, y0)  # (T, size, size)
        color = np.array(vocab.COLORS[obj.color], np.float32)
        for t in range(frames):
            _composite(canvas[t], alpha[t], color, int(x0[t]), int(y0[t]))
    return np.rint(canvas).astype(np.uint8)


def _composite(frame: np.ndarray, alpha: np.ndarray, color: np.ndarray, x0: int, y0: int) -> None:
    """Paint color over frame[y0:y0+size, x0:x0+size] with coverage alpha, clipped to the frame."""
    h, w = frame.shape[:2]
    size = alpha.shape[0]
    xs, ys = max(x0, 0), max(y0, 0)
    xe, ye = min(x0 + size, w), min(y0 + size, h)
    if xs >= xe or ys >= ye:
        return
    a = alpha[ys - y0 : ye - y0, xs - x0 : xe - x0, None]
    region = frame[ys:ye, xs:xe]
    region += (color - region) * a  # over: bg * (1 - a) + color * a


def render_scene(scene: Scene, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Simulate and render in one call."""
    from openreel.world.physics import simulate

    return render(scene, simulate(scene), width, height)
