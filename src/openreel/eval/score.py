"""Score a video against a scene description (spec section 7).

Input: frames (T, H, W, 3) uint8 and a `Scene` (a parsed caption or a dataset's scene; only the
objects' shape, colour, size and motion and the background are read: no trajectories). Each
described object gets five checks, the clip two more; a clip passes only if all pass.

  present      the colour's blob is in >= 90 % of frames, and is one blob (no object-sized twin)
  shape        circle / square / triangle from rotation-invariant blob moments
  size         median circumradius (area -> radius for the shape; growth divided out) in its band
  motion       the track matches the motion with the physics of spec section 4 (see _motion_*),
               and the degrees of freedom the motion leaves alone stay put: a moving object does
               not spin or grow, a spinning one does not travel, and so on
  consistency  area and colour steady frame to frame: no flicker, no jumps, no identity swaps
  background   (clip) the dominant colour is the named background, when the caption names one
  no_extra     (clip) no object-sized blob of a palette colour the scene does not have

Tolerances come from the spec (+-50 % speeds, +-25 % gravity, 0.02 stillness) or from the
physics (how far an object can travel between frames), plus a pixel or two for the measurement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from openreel.eval import segment as seg
from openreel.world import vocab
from openreel.world.scene import Scene, SceneObject

OBJECT_CHECKS = ("present", "shape", "size", "motion", "consistency")
CLIP_CHECKS = ("background", "no_extra")
CHECKS = OBJECT_CHECKS + CLIP_CHECKS

PRESENT_FRACTION = 0.9
STILL_TOL = 0.02  # max centroid displacement of something that stays in place
SPEED_TOL = 0.5  # +-50 % on speeds (spec)
GRAVITY_TOL = 0.25  # +-25 % on g (spec)
NO_GRAVITY = GRAVITY_TOL * vocab.GRAVITY  # |g| below this is "no gravity" (bounce_around)
MIN_SPIN_RATE = 0.25 * vocab.SPIN_RATE  # deg/s; a spin turns (the right way) faster, anything else slower
RESIZE = math.log(vocab.GROW_FACTOR)  # log radius change of grow / shrink
RESIZE_TOL = 0.5  # grow: log change within [0.5, 1.5] x RESIZE; no resize: |change| < 0.5 x RESIZE
MAX_JUMP = 0.15  # per frame; fastest thing in the world is a ball hitting the floor: 2 /s = 0.125 / frame
AREA_JUMP = math.log(1.35)  # per-frame |log area change| beyond the expected growth
BACKGROUND_TOL = 48.0
BAND_MARGIN = 1.5  # size bands: geometric midpoints between classes, outer limits x/÷ 1.5


def split_in_two(present_passed: bool, found: float | None) -> bool:
    """An object whose colour is found in enough frames but fails `present`: drawn as more than one blob."""
    return not present_passed and (found or 0.0) >= PRESENT_FRACTION


@dataclass
class Check:
    passed: bool
    detail: str = ""
    value: float | None = None


@dataclass
class ObjectScore:
    shape: str
    color: str
    size: str
    motion: str
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks.values())

    @property
    def label(self) -> str:
        return SceneObject(self.shape, self.color, self.size, self.motion).label()


@dataclass
class ClipScore:
    objects: list[ObjectScore]
    checks: dict[str, Check]  # clip-level: background (when named), no_extra
    frames: int = 0
    width: int = 0
    height: int = 0
    fps: float = vocab.FPS

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.objects) and all(c.passed for c in self.checks.values())

    def check_passed(self, name: str) -> bool | None:
        """Whether `name` passed for the clip (every object); None where it does not apply."""
        if name in self.checks:
            return self.checks[name].passed
        if name in OBJECT_CHECKS and self.objects:
            return all(o.checks[name].passed for o in self.objects if name in o.checks)
        return None

    def failures(self) -> list[str]:
        out = [f"{name}: {c.detail}" for name, c in self.checks.items() if not c.passed]
        for o in self.objects:
            out += [f"{o.label} {name}: {c.detail}" for name, c in o.checks.items() if not c.passed]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "frames": self.frames, "width": self.width, "height": self.height,
            "fps": self.fps, "checks": {k: asdict(v) for k, v in self.checks.items()},
            "objects": [{"shape": o.shape, "color": o.color, "size": o.size, "motion": o.motion,
                         "passed": o.passed, "checks": {k: asdict(v) for k, v in o.checks.items()}}
                        for o in self.objects],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ClipScore":
        objects = [ObjectScore(o["shape"], o["color"], o["size"], o["motion"],
                               {k: Check(**v) for k, v in o["checks"].items()}) for o in d["objects"]]
        return cls(objects, {k: Check(**v) for k, v in d["checks"].items()}, d.get("frames", 0),
                   d.get("width", 0), d.get("height", 0), d.get("fps", vocab.FPS))


# -- entry points --------------------------------------------------------------------------------


def score_clip(frames: np.ndarray, scene: Scene, fps: float | None = None) -> ClipScore:
    """Score frames (T, H, W, 3) uint8 against a scene description."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be a (T, H, W, 3) uint8 array, got {getattr(frames, 'shape', None)}")
    t, h, w, _ = frames.shape
    if min(h, w) < 64:
        raise ValueError(f"the evaluator needs frames of at least 64x64, got {w}x{h}")
    fps = float(fps or scene.fps or vocab.FPS)
    obs = seg.observe(frames, [o.color for o in scene.objects])
    ctx = _Context(obs, scene, fps, t)
    objects = []
    for o in scene.objects:
        tr = obs.tracks[o.color]
        checks = {"present": _present(ctx, o, tr)}
        if checks["present"].passed:
            checks["shape"] = _shape(ctx, o, tr)
            checks["size"] = _size(ctx, o, tr)
            checks["motion"] = _motion(ctx, o, tr)
            checks["consistency"] = _consistency(ctx, o, tr)
        else:
            for name in OBJECT_CHECKS[1:]:
                checks[name] = Check(False, "object not found")
        objects.append(ObjectScore(o.shape, o.color, o.size, o.motion, checks))
    clip = {}
    if scene.background is not None:
        clip["background"] = _background(obs, scene.background)
    clip["no_extra"] = _no_extra(ctx)
    return ClipScore(objects, clip, t, w, h, fps)


def score_video(path, scene: Scene) -> ClipScore:
    from openreel.video.io import read_video

    video = read_video(path)
    return score_clip(video.frames, scene, video.fps or None)


# -- shared measurement context ------------------------------------------------------------------


@dataclass
class _Context:
    obs: seg.Observation
    scene: Scene
    fps: float
    frames: int

    @property
    def t(self) -> np.ndarray:
        return np.arange(self.frames) / self.fps

    @property
    def duration(self) -> float:
        return (self.frames - 1) / self.fps

    def px_x(self, n: float = 1.0) -> float:
        return n / self.obs.width

    def px_y(self, n: float = 1.0) -> float:
        return n / self.obs.height

    def min_area(self) -> float:
        """Soft area (working px) of the smallest object the world has: a small triangle, shrunk."""
        return seg.smallest_area(self.obs.shorter)

    def object_area(self) -> float:
        """Area of a small triangle at scale 1: the least an object-sized blob has."""
        r = vocab.SIZES["small"] * self.obs.shorter
        return vocab.SHAPE_AREA["triangle"] * r * r

    def expected_scale(self, motion: str) -> np.ndarray:
        return vocab.scale_at(motion, self.t, self.duration) * np.ones(self.frames)


# -- checks ------------------------------------------------------------------------------------


def _present(ctx: _Context, o: SceneObject, tr: seg.Track) -> Check:
    big_enough = tr.present & (tr.mass >= 0.5 * ctx.min_area())
    frac = float(big_enough.mean())
    if frac < PRESENT_FRACTION:
        return Check(False, f"{o.color} blob in {frac:.0%} of frames (needs {PRESENT_FRACTION:.0%})", frac)
    twin = (tr.dup >= 0.5 * ctx.object_area()) & (tr.dup >= 0.3 * tr.mass)
    if twin.mean() >= 0.3:
        return Check(False, f"two {o.color} blobs in {twin.mean():.0%} of frames", frac)
    return Check(True, f"in {frac:.0%} of frames", frac)


def _clean_frames(ctx: _Context, o: SceneObject, tr: seg.Track) -> np.ndarray:
    """Frames where the blob is whole: present, not cut by the frame edge, apart from others."""
    ok = tr.present & (tr.mass >= 0.5 * ctx.min_area())
    norm_mass = tr.mass / ctx.expected_scale(o.motion) ** 2
    typical = np.median(norm_mass[ok]) if ok.any() else 0.0
    ok &= ~(touches_edge(tr) & (norm_mass < 0.85 * typical))
    ok &= apart(ctx.obs, tr)
    return ok if ok.sum() >= 3 else tr.present & (tr.mass > 0)


def touches_edge(tr: seg.Track) -> np.ndarray:
    """(T,) bool: the blob's core reaches the frame's edge (it may be cut)."""
    return (tr.left <= 0) | (tr.top <= 0) | (tr.right >= 1) | (tr.bottom >= 1)


def apart(obs: seg.Observation, tr: seg.Track) -> np.ndarray:
    """(T,) bool: no other described colour's blob within 2 px, so the outline is the object's own."""
    ok = np.ones(len(tr.present), bool)
    for other in obs.tracks.values():
        if other is tr:
            continue
        gap_x = np.maximum(other.left - tr.right, tr.left - other.right) * obs.width
        gap_y = np.maximum(other.top - tr.bottom, tr.top - other.bottom) * obs.height
        ok &= ~(other.present & (np.maximum(gap_x, gap_y) < 2))
    return ok


def shape_features(tr: seg.Track, frames: np.ndarray) -> dict[str, float]:
    m = tr.mass[frames]
    return {
        "mass": float(np.median(m)),
        "c2": float(np.median(np.abs(tr.mu2[frames]) / m**2)),
        "c3": float(np.median(np.abs(tr.mu3[frames]) / m**2.5)),
        "c4": float(np.median(np.abs(tr.mu4[frames]) / m**3)),
        "polar": float(np.median(tr.polar[frames] / m**2)),
    }


def world_shaped(c2: np.ndarray | float, polar: np.ndarray | float, mass: np.ndarray | float):
    """Could a blob with these moments be one of the world's shapes? Circles, squares and
    equilateral triangles have mu2 = 0 (3-, 4- and inf-fold symmetry), so c2 > 0.04 is elongated;
    their polar moment / mass^2 is at most the triangle's 0.192, so above 0.21 is hollow or ragged.
    Both limits widen for small blobs: pixel noise in mu2 grows like 1 / mass, and a blur of
    variance s^2 adds 2 s^2 / mass to the polar moment (s = 1 px: what H.264's chroma smoothing does)."""
    return (c2 <= 0.04 + 1.0 / mass) & (polar <= 0.21 + 2.0 / mass)


def classify_shape(feat: dict[str, float]) -> str:
    """'circle', 'square', 'triangle' or 'other', from the 3- and 4-fold moments relative to the
    ideal shapes' (circles have neither, squares only c4, triangles only c3)."""
    if not world_shaped(feat["c2"], feat["polar"], feat["mass"]):
        return "other"
    # Halfway to each ideal. The 3-fold moment decides first: nothing but a triangle has one,
    # whereas a small blob picks up a 4-fold one from the square pixel grid.
    if feat["c3"] / seg.C3_TRIANGLE >= 0.5:
        return "triangle"
    return "square" if feat["c4"] / seg.C4_SQUARE >= 0.5 else "circle"


def _shape(ctx: _Context, o: SceneObject, tr: seg.Track) -> Check:
    frames = _clean_frames(ctx, o, tr)
    frames &= tr.mass >= np.median(tr.mass[frames])  # the larger half: more pixels, clearer corners
    feat = shape_features(tr, frames)
    got = classify_shape(feat)
    detail = f"looks like a {got} (c3 {feat['c3'] / seg.C3_TRIANGLE:.2f}, c4 {feat['c4'] / seg.C4_SQUARE:.2f} of ideal)"
    return Check(got == o.shape, detail)


def size_band(size: str) -> tuple[float, float]:
    names = list(vocab.SIZES)
    r = [vocab.SIZES[n] for n in names]
    i = names.index(size)
    lo = math.sqrt(r[i - 1] * r[i]) if i > 0 else r[i] / BAND_MARGIN
    hi = math.sqrt(r[i] * r[i + 1]) if i < len(r) - 1 else r[i] * BAND_MARGIN
    return lo, hi


def _size(ctx: _Context, o: SceneObject, tr: seg.Track) -> Check:
    frames = _clean_frames(ctx, o, tr)
    radius = np.sqrt(tr.mass / vocab.SHAPE_AREA[o.shape]) / ctx.obs.shorter / ctx.expected_scale(o.motion)
    r = float(np.median(radius[frames]))
    lo, hi = size_band(o.size)
    return Check(lo <= r < hi, f"radius {r:.3f} (band {lo:.3f}-{hi:.3f})", r)


def _background(obs: seg.Observation, name: str) -> Check:
    dist = {b: float(np.linalg.norm(obs.background - np.array(rgb))) for b, rgb in vocab.BACKGROUNDS.items()}
    nearest = min(dist, key=dist.get)
    rgb = ",".join(str(int(round(v))) for v in obs.background)
    ok = nearest == name and dist[name] <= BACKGROUND_TOL
    return Check(ok, f"background ({rgb}) looks {nearest if dist[nearest] <= BACKGROUND_TOL else 'unlike any'}")


def object_like(tr: seg.Track) -> np.ndarray:
    """(T,) frames where the blob could be one of the world's shapes. Anti-aliased rims and seams
    that land on another palette colour are thin arcs: elongated or hollow, so they are not."""
    m = np.where(tr.mass > 0, tr.mass, np.inf)
    return tr.present & world_shaped(np.abs(tr.mu2) / m**2, tr.polar / m**2, m)


def _no_extra(ctx: _Context) -> Check:
    extra = []
    for name, tr in ctx.obs.others.items():
        frames = object_like(tr) & (tr.mass >= 0.5 * ctx.min_area())
        if frames.mean() >= 0.3:
            extra.append(f"{name} ({frames.mean():.0%} of frames)")
    return Check(not extra, "extra " + ", ".join(extra) if extra else "no other object")


def _consistency(ctx: _Context, o: SceneObject, tr: seg.Track) -> Check:
    p = tr.present & (tr.mass > 0)
    idx = np.nonzero(p)[0]
    gaps = int(((idx[-1] - idx[0] + 1) - len(idx)) if len(idx) else 0)
    if gaps:
        return Check(False, f"blob vanishes for {gaps} frame(s) mid-clip (flicker)")
    pair = p[1:] & p[:-1]
    expect = np.diff(2 * np.log(ctx.expected_scale(o.motion)))
    area_jump = np.abs(np.diff(np.log(np.maximum(tr.mass, 1e-9))) - expect)[pair]
    # allowed: AREA_JUMP, plus half a pixel of edge all around (relative 1 / radius in px)
    limit = AREA_JUMP + 1.0 / math.sqrt(float(np.median(tr.mass[p])) / math.pi)
    step = np.hypot(np.diff(tr.cx), np.diff(tr.cy))[pair]
    worst_area = float(area_jump.max(initial=0.0))
    worst_step = float(step.max(initial=0.0))
    color_step = np.linalg.norm(np.diff(tr.mean_color, axis=0), axis=1)[pair]
    worst_color = float(np.nanmax(color_step)) if np.isfinite(color_step).any() else 0.0
    if worst_area > limit:
        return Check(False, f"area jumps by {math.exp(worst_area) - 1:.0%} between frames", worst_area)
    if worst_step > MAX_JUMP:
        return Check(False, f"blob jumps {worst_step:.2f} in one frame", worst_step)
    if worst_color > seg.COLOR_STEP:
        return Check(False, f"colour changes by {worst_color:.0f} between frames (limit {seg.COLOR_STEP:.0f})")
    return Check(True, f"max area change {math.exp(worst_area) - 1:.0%}, max step {worst_step:.3f}")


# -- motion ------------------------------------------------------------------------------------


def _motion(ctx: _Context, o: SceneObject, tr: seg.Track) -> Check:
    fn = {
        "still": _motion_still, "fall_bounce": _motion_fall, "bounce_around": _motion_bounce,
        "grow": _motion_resize, "shrink": _motion_resize, "collide": _motion_collide,
    }.get(o.motion)
    if fn is None:
        fn = _motion_move if o.motion in vocab.MOVES else _motion_spin
    ok, detail = fn(ctx, o, tr)
    if not ok:
        return Check(False, detail)
    # What the motion leaves alone must stay put.
    if o.motion not in vocab.SPINS:
        rate = spin_rate(tr, o.shape, ctx.fps)
        if rate is not None and abs(rate) >= MIN_SPIN_RATE:
            return Check(False, f"{detail}; but it rotates at {rate:.0f} deg/s")
    if o.motion not in ("grow", "shrink"):
        change = resize_change(ctx, tr)
        if abs(change) >= RESIZE_TOL * RESIZE:
            return Check(False, f"{detail}; but its size changes x{math.exp(change):.2f}")
    return Check(True, detail)


def _present_idx(tr: seg.Track) -> np.ndarray:
    return np.nonzero(tr.present & (tr.mass > 0))[0]


def _displacement(ctx: _Context, tr: seg.Track) -> float:
    """Largest distance (normalized units) of the centroid from its median position."""
    i = _present_idx(tr)
    x, y = tr.cx[i], tr.cy[i]
    return float(np.hypot(x - np.median(x), y - np.median(y)).max())


def _motion_still(ctx, o, tr):
    d = _displacement(ctx, tr)
    return d < STILL_TOL, f"displacement {d:.3f} (still: < {STILL_TOL})"


def spin_rate(tr: seg.Track, shape: str, fps: float) -> float | None:
    """Rotation rate in deg/s (clockwise on screen positive) from the k-fold moment's phase.

    Rotating a shape by theta multiplies mu_k by exp(i k theta) (z = x + iy with y down, so a
    positive theta turns clockwise on screen); per-frame steps are unwrapped within 180/k deg.
    None if the blob has no k-fold orientation to read (a circle, or too blurred).
    """
    if shape == "circle":
        return None
    k, mu, ref = (4, tr.mu4, seg.C4_SQUARE) if shape == "square" else (3, tr.mu3, seg.C3_TRIANGLE)
    m = np.where(tr.mass > 0, tr.mass, np.inf)
    valid = tr.present & (np.abs(mu) / m ** (1 + k / 2) >= 0.3 * ref)
    pair = valid[1:] & valid[:-1]
    if pair.sum() < max(2, 0.5 * (len(valid) - 1)):
        return None
    step = np.angle(mu[1:] * np.conj(mu[:-1]))[pair] / k  # radians, within +-pi/k
    return float(np.degrees(np.median(step)) * fps)  # median: a few garbled frames do not swing it


def _motion_spin(ctx, o, tr):
    rate = spin_rate(tr, o.shape, ctx.fps)
    if rate is None:
        return False, "no orientation to track (the blob has no corners)"
    sign = vocab.SPINS[o.motion]
    detail = f"rotates {rate:+.0f} deg/s (clockwise +; needs {'+' if sign > 0 else '-'}{MIN_SPIN_RATE:.0f} or more)"
    if rate * sign < MIN_SPIN_RATE:
        return False, detail
    d = _displacement(ctx, tr)
    if d >= STILL_TOL:
        return False, f"{detail}; but it travels {d:.3f}"
    return True, detail


def resize_change(ctx: _Context, tr: seg.Track) -> float:
    """log(radius at the end / radius at the start) from a straight-line fit of sqrt(area) in time
    (grow and shrink scale linearly in time, so the fit is exact for them)."""
    i = _present_idx(tr)
    if len(i) < 3:
        return 0.0
    r = np.sqrt(tr.mass[i])
    slope, icept = np.polyfit(ctx.t[i], r, 1)
    start, end = icept, icept + slope * ctx.duration
    if start <= 0 or end <= 0:
        return math.inf if end > start else -math.inf
    return float(math.log(end / start))


def _motion_resize(ctx, o, tr):
    change = resize_change(ctx, tr)
    want = RESIZE if o.motion == "grow" else -RESIZE
    ok = (1 - RESIZE_TOL) * abs(want) <= change * np.sign(want) <= (1 + RESIZE_TOL) * abs(want)
    detail = f"size x{math.exp(change):.2f} over the clip (needs x{math.exp(want):.2f} +-50 % in log)"
    if not ok:
        return False, detail
    d = _displacement(ctx, tr)
    if d >= STILL_TOL:
        return False, f"{detail}; but it travels {d:.3f}"
    return True, detail


def ramp_fit(t: np.ndarray, u: np.ndarray) -> tuple[float, float, float, float]:
    """Fit u = u0 + v min(t, ts) (constant speed, then stopped at a wall) by least squares over
    stop times ts on a quarter-frame grid: (v, ts, u at the stop, largest residual)."""
    dt = (t[-1] - t[0]) / max(len(t) - 1, 1)
    ts = np.arange(t[min(3, len(t) - 1)], t[-1] + dt / 8, dt / 4)  # (C,)
    s = np.minimum(t[None, :], ts[:, None])  # (C, n)
    sc = s - s.mean(axis=1, keepdims=True)
    uc = u - u.mean()
    v = (sc * uc).sum(axis=1) / np.maximum((sc * sc).sum(axis=1), 1e-12)
    resid = uc[None, :] - v[:, None] * sc
    best = int((resid * resid).sum(axis=1).argmin())
    u0 = u.mean() - v[best] * s[best].mean()
    return float(v[best]), float(ts[best]), float(u0 + v[best] * ts[best]), float(np.abs(resid[best]).max())


def _motion_move(ctx, o, tr):
    dx, dy = vocab.MOVES[o.motion]
    axis, sign = ("x", dx) if dx else ("y", dy)
    i = _present_idx(tr)
    u, perp = (tr.cx, tr.cy) if axis == "x" else (tr.cy, tr.cx)
    if len(i) < 4:
        return False, "too few frames"
    v, ts, u_stop, resid = ramp_fit(ctx.t[i], u[i])
    lo, hi = (1 - SPEED_TOL) * vocab.MOVE_SPEED, (1 + SPEED_TOL) * vocab.MOVE_SPEED
    detail = f"speed {v * sign:+.2f} /s to the {o.motion[5:]} (needs {lo:.2f}-{hi:.2f})"
    if not lo <= v * sign <= hi:
        return False, detail
    if resid > STILL_TOL:
        return False, f"{detail}; but the path is not a straight run that stops (off by {resid:.3f})"
    if ts < ctx.t[i[-1]] - 0.5 / ctx.fps:  # it stopped: at the wall it was heading for?
        wall = _walls(tr, axis)[1 if sign > 0 else 0]
        tol = 0.02 + (ctx.px_x(2) if axis == "x" else ctx.px_y(2))
        if abs(u_stop - wall) > tol:
            return False, f"{detail}; but it stops {abs(u_stop - wall):.3f} short of the wall"
    along = abs(v) * (min(ts, ctx.duration) - ctx.t[i[0]])
    drift = float(np.ptp(perp[i]))
    if drift > max(0.03, 0.25 * along):
        return False, f"{detail}; but it drifts {drift:.2f} sideways"
    return True, detail


# Piecewise fits: a bounce or a collision shows as a reversal of the track. Split the track at
# its turning points, fit each free piece, and read where two fitted pieces meet.


def _pieces(u: np.ndarray, keep: np.ndarray, min_len: int, maxima_only: bool = False) -> list[np.ndarray]:
    """Runs of frames in `keep`, split at turning points of u (the turning frame itself dropped,
    since the reversal happened between it and a neighbour); runs shorter than min_len dropped.
    With maxima_only, split only where u stops increasing (a fall's floor, not its apex)."""
    du = np.diff(u)
    turn = np.zeros(len(u), bool)
    # A frame where u stops rising (or falling); "stops" includes a tie, which is what a
    # reversal exactly halfway between two frames looks like.
    turn[1:-1] = (du[:-1] > 0) & (du[1:] <= 0)
    if not maxima_only:
        turn[1:-1] |= (du[:-1] < 0) & (du[1:] >= 0)
    ok = keep & ~turn
    runs, cur = [], []
    for k in range(len(u)):
        if ok[k] and (not cur or k == cur[-1] + 1):
            cur.append(k)
        else:
            if len(cur) >= min_len:
                runs.append(np.array(cur))
            cur = [k] if ok[k] else []
    if len(cur) >= min_len:
        runs.append(np.array(cur))
    return runs


def _joint_fit(t: np.ndarray, u: np.ndarray, pieces: list[np.ndarray]) -> tuple[float, list[tuple[float, float]]]:
    """Least squares u = a t^2 + b_k t + c_k with one a shared by all pieces: (a, [(b_k, c_k)])."""
    n = sum(len(p) for p in pieces)
    design = np.zeros((n, 1 + 2 * len(pieces)))
    rhs = np.zeros(n)
    row = 0
    for k, p in enumerate(pieces):
        rows = slice(row, row + len(p))
        design[rows, 0] = t[p] ** 2
        design[rows, 1 + 2 * k] = t[p]
        design[rows, 2 + 2 * k] = 1.0
        rhs[rows] = u[p]
        row += len(p)
    sol = np.linalg.lstsq(design, rhs, rcond=None)[0]
    return float(sol[0]), [(float(sol[1 + 2 * k]), float(sol[2 + 2 * k])) for k in range(len(pieces))]


def _motion_fall(ctx, o, tr):
    i = _present_idx(tr)
    y = tr.cy
    floor = 1 - float(np.median((tr.bottom - tr.cy)[i]))  # centre height when resting on the floor
    keep = tr.present & (floor - y > ctx.px_y(1.5))  # in flight: clear of the floor
    pieces = _pieces(y, keep, 4, maxima_only=True)
    if len(pieces) < 2:
        return False, "no bounce: the track never reverses at the floor"
    a, fits = _joint_fit(ctx.t, y, pieces)
    g = 2 * a
    contact = None
    for k in range(len(pieces) - 1):
        (b1, c1), (b2, c2) = fits[k], fits[k + 1]
        if abs(b1 - b2) < 1e-9 or pieces[k + 1][0] - pieces[k][-1] > 4:
            continue
        tc = (c2 - c1) / (b1 - b2)  # where the two flights meet
        t_lo, t_hi = ctx.t[pieces[k][-1]] - 1 / ctx.fps, ctx.t[pieces[k + 1][0]] + 1 / ctx.fps
        yc = a * tc * tc + b1 * tc + c1
        v_in, v_out = 2 * a * tc + b1, 2 * a * tc + b2
        if t_lo <= tc <= t_hi and v_in > 0.1 and v_out < -0.1 and abs(yc - floor) <= 0.02 + ctx.px_y(2):
            contact = (tc, -v_out / v_in)
            break
    lo, hi = (1 - GRAVITY_TOL) * vocab.GRAVITY, (1 + GRAVITY_TOL) * vocab.GRAVITY
    if contact is None:
        return False, f"no bounce off the floor (flights fit g = {g:.2f})"
    detail = f"bounces at {contact[0]:.2f} s (restitution {contact[1]:.2f}), g = {g:.2f} /s^2 (needs {lo:.1f}-{hi:.1f})"
    if not lo <= g <= hi:
        return False, detail
    drift = float(np.ptp(tr.cx[i]))
    if drift > 0.05:
        return False, f"{detail}; but it drifts {drift:.2f} sideways"
    return True, detail


def _reflections(ctx: _Context, tr: seg.Track, axis: str) -> list[tuple[int, float, float, float]]:
    """Reversals on one axis: (frame after, meeting point, slope before, slope after) per event."""
    u = tr.cx if axis == "x" else tr.cy
    pieces = _pieces(u, tr.present & (tr.mass > 0), 3)
    events = []
    for p, q in zip(pieces, pieces[1:]):
        if q[0] - p[-1] > 4:
            continue
        b1, c1 = np.polyfit(ctx.t[p], u[p], 1)
        b2, c2 = np.polyfit(ctx.t[q], u[q], 1)
        if b1 * b2 >= 0 or min(abs(b1), abs(b2)) < 0.05:
            continue  # no reversal, or too slow to tell from noise
        tc = (c2 - c1) / (b1 - b2)
        events.append((int(q[0]), float(b1 * tc + c1), float(b1), float(b2)))
    return events


def _walls(tr: seg.Track, axis: str) -> tuple[float, float]:
    """Centre positions at which the blob touches the low and the high wall on this axis."""
    i = _present_idx(tr)
    if axis == "x":
        return float(np.median((tr.cx - tr.left)[i])), 1 - float(np.median((tr.right - tr.cx)[i]))
    return float(np.median((tr.cy - tr.top)[i])), 1 - float(np.median((tr.bottom - tr.cy)[i]))


def _motion_bounce(ctx, o, tr):
    i = _present_idx(tr)
    hits, misses = 0, 0
    for axis in ("x", "y"):
        lo, hi = _walls(tr, axis)
        tol = 0.02 + (ctx.px_x(2) if axis == "x" else ctx.px_y(2))
        for _, u, b1, _ in _reflections(ctx, tr, axis):
            wall = hi if b1 > 0 else lo
            if abs(u - wall) <= tol:
                hits += 1
            else:
                misses += 1
    step = np.hypot(np.diff(tr.cx[i]), np.diff(tr.cy[i])) / np.diff(ctx.t[i])
    speed = float(np.median(step)) if len(step) else 0.0
    lo, hi = (1 - SPEED_TOL) * vocab.BOUNCE_SPEED, (1 + SPEED_TOL) * vocab.BOUNCE_SPEED
    detail = f"{hits} wall reflection(s), speed {speed:.2f} /s (needs {lo:.2f}-{hi:.2f})"
    if hits == 0:
        return False, f"no reflection at a wall; {detail}"
    if misses:
        return False, f"{detail}; but it turns {misses} time(s) away from any wall"
    if not lo <= speed <= hi:
        return False, detail
    pieces = _pieces(tr.cy, tr.present & (tr.mass > 0), 4)
    if pieces:
        g = 2 * _joint_fit(ctx.t, tr.cy, pieces)[0]
        if abs(g) > NO_GRAVITY:
            return False, f"{detail}; but it accelerates vertically (g = {g:.2f})"
    return True, detail


def _row_gap(ctx: _Context, left: seg.Track, right: seg.Track, frame: int) -> float:
    """Horizontal gap (normalized x) between two blobs on the rows they share at a frame."""
    gap = right.row_left[frame] - left.row_right[frame]
    gap = gap[~np.isnan(gap)]
    return float(gap.min()) / ctx.obs.width if len(gap) else math.inf


def _motion_collide(ctx, o, tr):
    partner = [p for p in ctx.scene.objects if p.motion == "collide" and p.color != o.color]
    if not partner:
        return False, "collide needs a second colliding object"
    other = ctx.obs.tracks[partner[0].color]
    i = _present_idx(tr)
    if not other.present.any():
        return False, f"the {partner[0].color} partner is missing"
    events = _reflections(ctx, tr, "x")
    if not events:
        return False, "never reverses horizontally"
    frame, _, v_in, v_out = events[0]
    toward = np.sign(np.nanmedian(other.cx[:frame] - tr.cx[:frame]))
    lo_v, hi_v = (1 - SPEED_TOL) * vocab.COLLIDE_SPEED, (1 + SPEED_TOL) * vocab.COLLIDE_SPEED
    detail = f"approaches at {v_in * toward:+.2f} /s, leaves at {v_out * toward:+.2f} /s"
    if not (v_in * toward > 0 > v_out * toward):
        return False, f"first reversal is not toward then away from the partner ({detail})"
    if not lo_v <= abs(v_in) <= hi_v:
        return False, f"{detail} (approach speed needs {lo_v:.2f}-{hi_v:.2f})"
    a, b = (tr, other) if toward > 0 else (other, tr)
    window = range(max(frame - 2, 0), min(frame + 1, ctx.frames))
    gap = min(_row_gap(ctx, a, b, k) for k in window)
    reach = 2 * (1 + SPEED_TOL) * vocab.COLLIDE_SPEED / ctx.fps + ctx.px_x(2)  # closing in one frame
    if gap > reach:
        return False, f"{detail}; but it turns {gap:.3f} away from the partner (no contact)"
    drift = float(np.ptp(tr.cy[i]))
    if drift > 0.03:
        return False, f"{detail}; but it drifts {drift:.2f} vertically"
    return True, f"{detail}; contact gap {max(gap, 0):.3f}"
