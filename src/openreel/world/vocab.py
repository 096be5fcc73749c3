"""The shapes world's vocabulary and physical constants (spec: /work/shared/shapes-world.md, v1).

Everything a scene can contain is named here once, with its English identifier (used in JSON),
its Chinese word, and its numbers. Other modules import these tables; nothing else defines them.
"""

from __future__ import annotations

import math

SPEC_VERSION = 1

# -- clip ------------------------------------------------------------------------------------
FPS = 16  # frames per second; a clip of D seconds has FPS * D + 1 frames (Wan VAE wants 4n + 1)
ASPECTS = {"1:1": (1, 1), "16:9": (16, 9), "9:16": (9, 16)}


def frame_count(seconds: float, fps: int = FPS) -> int:
    return round(fps * seconds) + 1


# -- palette (exact sRGB) --------------------------------------------------------------------
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "orange": (255, 140, 0),
    "yellow": (250, 220, 30),
    "green": (40, 180, 60),
    "cyan": (0, 200, 220),
    "blue": (40, 80, 230),
    "purple": (150, 60, 200),
    "pink": (255, 105, 180),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
    "navy": (20, 24, 60),
}
COLOR_ZH = {
    "red": "红色", "orange": "橙色", "yellow": "黄色", "green": "绿色",
    "cyan": "青色", "blue": "蓝色", "purple": "紫色", "pink": "粉色",
}
BACKGROUND_ZH = {"black": "黑色", "white": "白色", "gray": "灰色", "navy": "深蓝色"}

# -- objects ---------------------------------------------------------------------------------
SHAPES = ("circle", "square", "triangle")
SHAPE_ZH = {"circle": "圆形", "square": "正方形", "triangle": "三角形"}

# Radius of the circumscribed circle, as a fraction of the frame's shorter side.
SIZES: dict[str, float] = {"small": 0.06, "medium": 0.10, "large": 0.15}
SIZE_ZH = {"small": "小", "medium": "中", "large": "大"}

# Area of each shape in units of R^2 (R = circumradius): circle pi, square (side R*sqrt2) 2,
# equilateral triangle (side R*sqrt3) 3*sqrt3/4. The evaluator inverts these to get R from area.
SHAPE_AREA = {"circle": math.pi, "square": 2.0, "triangle": 3 * math.sqrt(3) / 4}

# Half-extents at angle 0 in units of R: (left/right, up, down). The triangle points up, so its
# apex is R above the centroid and its base R/2 below; the square's half-side is R/sqrt2.
SHAPE_EXTENTS = {
    "circle": (1.0, 1.0, 1.0),
    "square": (1 / math.sqrt(2), 1 / math.sqrt(2), 1 / math.sqrt(2)),
    "triangle": (math.sqrt(3) / 2, 1.0, 0.5),
}
MIN_OBJECTS, MAX_OBJECTS = 1, 3

# -- motions ---------------------------------------------------------------------------------
MOTIONS = (
    "still", "move_left", "move_right", "move_up", "move_down", "fall_bounce",
    "bounce_around", "spin_cw", "spin_ccw", "grow", "shrink", "collide",
)
MOVES = {"move_left": (-1.0, 0.0), "move_right": (1.0, 0.0), "move_up": (0.0, -1.0), "move_down": (0.0, 1.0)}
SPINS = {"spin_cw": 1.0, "spin_ccw": -1.0}  # sign of the angle rate; clockwise on screen is positive
# Families name groups of motions in hold-out combinations ("purple triangle + spin").
MOTION_FAMILIES = {
    "move": tuple(MOVES),
    "spin": tuple(SPINS),
    "resize": ("grow", "shrink"),
}

MOVE_SPEED = 0.30  # /s, sampled within +-MOVE_SPEED_JITTER
MOVE_SPEED_JITTER = 0.20
GRAVITY = 2.0  # /s^2, in units of the frame height
RESTITUTION = 0.75
BOUNCE_SPEED = 0.40  # /s, bounce_around
SPIN_RATE = 180.0  # degrees / s
GROW_FACTOR = 1.8  # size x 1.8 (grow) or / 1.8 (shrink), linearly over the clip
COLLIDE_SPEED = 0.30  # /s, each object, toward the other


def scale_at(motion: str, t, duration: float):
    """Scale factor at time t (s) for a motion; linear in time for grow and shrink."""
    frac = t / duration if duration > 0 else 0 * t
    if motion == "grow":
        return 1.0 + (GROW_FACTOR - 1.0) * frac
    if motion == "shrink":
        return 1.0 + (1.0 / GROW_FACTOR - 1.0) * frac
    return 1.0 + 0 * frac


def max_scale(motion: str) -> float:
    return GROW_FACTOR if motion == "grow" else 1.0


def expand_motion(name: str) -> tuple[str, ...]:
    """A motion identifier or family name -> the motion identifiers it stands for."""
    if name in MOTIONS:
        return (name,)
    if name in MOTION_FAMILIES:
        return MOTION_FAMILIES[name]
    raise KeyError(name)
