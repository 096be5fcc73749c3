"""From frames to per-colour tracks: palette segmentation, connected components, blob moments.

Segmentation models every pixel as a mix of the background b and one palette colour c,
p = b + a (c - b), in luma/chroma (BT.601 YCbCr) coordinates:

- which colour: the one whose chroma direction from the background is nearest to the pixel's
  (hue, in effect). H.264's yuv420p stores chroma at half resolution and smooths it, so a small
  or thin object's chroma is diluted toward the background; dilution shortens the chroma vector
  but keeps its direction, and the palette's directions are >= 17 degrees apart on every
  background. (A plain RGB nearest-colour rule reads a diluted orange as yellow.)
- how much of it (coverage a): a projection on the background->colour segment that weighs luma
  above chroma, so a blob's sharp luma edge sets it where luma differs, and chroma where it does
  not (green on gray).

The coverage weight makes areas and moments sub-pixel accurate on anti-aliased edges, and blurring
keeps a blob's total weight ("mass"), its centroid and its complex moments (an isotropic blur adds
nothing to sum(a z^k) for k >= 1 about the centroid), which is what the shape and motion checks read.

Frames larger than 128 px on the shorter side are box-averaged down to about 128 first; that
keeps the weights (averaging is linear) and bounds the cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openreel.world import vocab

WORK_SIZE = 128  # shorter side the evaluator works at (integer box-downsampling to >= this)
ALPHA_MIN = 0.15  # weaker tints than this (in chroma) are background: noise and faint halos
CHROMA_TOL = 20.0  # chroma distance from the colour's direction beyond which a pixel is no palette colour
OVERSHOOT = 0.3  # ringing may carry a pixel this fraction past its colour (luma or chroma), not more
LUMA_DECIDES = 20.0  # luma differences from the background below this are too small to check
CORE = 0.5  # coverage above which a pixel belongs to a blob's core (its 50 % contour)
CHROMA_WEIGHT = 0.35  # chroma's weight against luma in the coverage projection

PALETTE_RGB = np.array(list(vocab.COLORS.values()), np.float32)  # (8, 3)
PALETTE_NAMES = list(vocab.COLORS)
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)


def to_ycc(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _YCC.T


PALETTE = to_ycc(PALETTE_RGB)  # (8, 3)
# A blob's colour may not step by half the distance between the two nearest palette colours
# (orange and yellow) from one frame to the next.
COLOR_STEP = 0.5 * min(float(np.linalg.norm(a - b)) for i, a in enumerate(PALETTE) for b in PALETTE[i + 1 :])


def downsample(frames: np.ndarray) -> tuple[np.ndarray, int]:
    """(T, H, W, 3) uint8 -> float32 frames box-averaged by an integer factor, and the factor."""
    k = max(1, min(frames.shape[1:3]) // WORK_SIZE)
    f = frames.astype(np.float32)
    if k == 1:
        return f, 1
    t, h, w, _ = f.shape
    f = f[:, : h // k * k, : w // k * k]
    return f.reshape(t, h // k, k, w // k, k, 3).mean(axis=(2, 4)), k


def estimate_background(frames: np.ndarray) -> np.ndarray:
    """The dominant colour: mode of 16-level quantized colours over a few frames, then its mean."""
    picks = frames[np.linspace(0, len(frames) - 1, min(9, len(frames))).round().astype(int), ::2, ::2]
    px = picks.reshape(-1, 3)
    q = np.clip(px, 0, 255).astype(np.int32) >> 4
    code = (q[:, 0] << 8) | (q[:, 1] << 4) | q[:, 2]
    mode = np.bincount(code, minlength=4096).argmax()
    rough = px[code == mode].mean(axis=0)
    near = np.linalg.norm(px - rough, axis=1) < 24
    return px[near].mean(axis=0)


def segment(frames: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label (T, h, w) int8 (palette index, -1 none) and coverage (T, h, w) float32, from YCbCr
    frames and background (see the module docstring)."""
    d = PALETTE - bg  # (8, 3) background -> colour
    dc = d[:, 1:]  # (8, 2) chroma directions
    dcc = (dc * dc).sum(axis=1)  # (8,)
    wts = np.array([1.0, CHROMA_WEIGHT**2, CHROMA_WEIGHT**2], np.float32)
    p = (frames - bg).reshape(-1, 3)  # (P, 3)
    pc2 = (p[:, 1:] ** 2).sum(axis=1)
    # a >= ALPHA_MIN in chroma needs |chroma| >= ALPHA_MIN |dc|: skip the (many) pixels near bg
    idx = np.nonzero(pc2 >= (ALPHA_MIN**2) * dcc.min())[0]
    labels = np.full(len(p), -1, np.int8)
    weights = np.zeros(len(p), np.float32)
    for s in range(0, len(idx), 1 << 16):  # chunks bound the (n, 8) temporaries
        i = idx[s : s + (1 << 16)]
        q = p[i]  # (n, 3)
        pd = q[:, 1:] @ dc.T  # (n, 8)
        a_c = pd / dcc
        ac = np.clip(a_c, 0.0, 1.0 + OVERSHOOT)
        err2 = pc2[i, None] - 2 * ac * pd + ac * ac * dcc  # squared chroma distance to each segment
        err2[a_c < ALPHA_MIN] = np.inf
        best = err2.argmin(axis=1)
        rows = np.arange(len(i))
        db = d[best]  # (n, 3)
        a_y = q[:, 0] / np.where(np.abs(db[:, 0]) > 1e-3, db[:, 0], 1e-3)
        luma_ok = (np.abs(db[:, 0]) < LUMA_DECIDES) | ((a_y > -OVERSHOOT) & (a_y < 1 + OVERSHOOT))
        ok = (err2[rows, best] <= CHROMA_TOL**2) & luma_ok
        cover = ((q * db) * wts).sum(axis=1) / ((db * db) * wts).sum(axis=1)
        labels[i[ok]] = best[ok]
        weights[i[ok]] = np.clip(cover[ok], 0.0, 1.0)
    shape = frames.shape[:3]
    return labels.reshape(shape), weights.reshape(shape)


def label_components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a (T, h, w) bool mask, each frame separately.

    Returns labels (T, h, w) int32 (0 = none, components numbered from 1) and each component's
    frame index. Runs of set pixels per row are united with overlapping runs of the row above
    (union-find); frames are stacked with an empty row between them so they never connect.
    """
    t, h, w = mask.shape
    stacked = np.zeros((t, h + 1, w + 2), bool)
    stacked[:, :h, 1:-1] = mask
    flat = stacked.reshape(t * (h + 1), w + 2)
    edges = np.diff(flat.astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # exclusive ends, same order as starts
    labels = np.zeros(flat.shape[0] * w, np.int32)
    if len(rows) == 0:
        return labels.reshape(t, h + 1, w)[:, :h], np.zeros(0, np.int64)
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = np.searchsorted(rows, np.arange(flat.shape[0] + 1))
    starts_l, ends_l = starts.tolist(), ends.tolist()
    busy = np.nonzero((first[1:-1] > first[:-2]) & (first[2:] > first[1:-1]))[0] + 1  # rows with runs above too
    for r in busy.tolist():
        i, i_end, j, j_end = int(first[r - 1]), int(first[r]), int(first[r]), int(first[r + 1])
        while i < i_end and j < j_end:
            if starts_l[j] <= ends_l[i] and starts_l[i] <= ends_l[j]:  # touching, diagonals included
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            if ends_l[i] < ends_l[j]:
                i += 1
            else:
                j += 1
    roots = np.array([find(i) for i in range(len(rows))])
    uniq, comp = np.unique(roots, return_inverse=True)
    comp = comp + 1
    lengths = ends - starts
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos = np.repeat(rows * w + starts, lengths) + np.arange(lengths.sum()) - offsets
    labels[pos] = np.repeat(comp, lengths)
    frame_of = rows[uniq] // (h + 1)
    return labels.reshape(t, h + 1, w)[:, :h], frame_of


def dilate(mask: np.ndarray, steps: int = 1) -> np.ndarray:
    """3x3 binary dilation of (T, h, w), `steps` times."""
    for _ in range(steps):
        m = mask.copy()
        m[:, 1:] |= mask[:, :-1]
        m[:, :-1] |= mask[:, 1:]
        m2 = m.copy()
        m2[:, :, 1:] |= m[:, :, :-1]
        m2[:, :, :-1] |= m[:, :, 1:]
        mask = m2
    return mask


def choose_blobs(comp: np.ndarray, frame_of: np.ndarray, weight: np.ndarray, max_jump: float = 0.15) -> np.ndarray:
    """The object's blob in each frame: a minimum-cost path through the frames' components.

    Usually there is one component per frame. When there are more (another object's blurred rim
    that lands on this colour, a generated video's speckle), prefer blobs of the clip's typical
    mass that continue the track smoothly: unary cost |log(mass / typical)|, transition cost
    (jump / max_jump)^2 in normalized units, a frame without the object costs 2.
    Returns (T,) component ids (1-based, 0 = none).
    """
    t, h, w = comp.shape
    out = np.zeros(t, np.int64)
    n = len(frame_of)
    if n == 0:
        return out
    ft, fy, fx = np.nonzero(comp)
    ids = comp[ft, fy, fx] - 1
    a = weight[ft, fy, fx].astype(np.float64)
    mass = np.bincount(ids, weights=a, minlength=n)
    cx = np.bincount(ids, weights=a * (fx + 0.5), minlength=n) / np.maximum(mass, 1e-9) / w
    cy = np.bincount(ids, weights=a * (fy + 0.5), minlength=n) / np.maximum(mass, 1e-9) / h
    heaviest = np.zeros(t)
    np.maximum.at(heaviest, frame_of, mass)
    typical = np.median(heaviest[heaviest > 0])
    per_frame: list[list[int]] = [[] for _ in range(t)]
    for c in np.argsort(-mass):
        if mass[c] >= 0.2 * typical and len(per_frame[frame_of[c]]) < 4:
            per_frame[frame_of[c]].append(int(c))
    # Viterbi over states "none" (-1) and the candidate components of each frame
    cost = {-1: 2.0}
    back: list[dict[int, int]] = []
    for k in range(t):
        new, ptr = {-1: min(cost.values()) + 2.0}, {-1: min(cost, key=cost.get)}
        for c in per_frame[k]:
            unary = abs(math.log(mass[c] / typical))
            best, arg = math.inf, -1
            for p, pc in cost.items():
                jump = 0.0 if p < 0 else ((cx[c] - cx[p]) ** 2 + (cy[c] - cy[p]) ** 2) / max_jump**2
                if pc + jump < best:
                    best, arg = pc + jump, p
            new[c], ptr[c] = best + unary, arg
        cost = new
        back.append(ptr)
    state = min(cost, key=cost.get)
    for k in range(t - 1, -1, -1):
        out[k] = state + 1
        state = back[k][state]
    return out


@dataclass
class Track:
    """One palette colour's main blob through the clip; positions normalized like the world."""

    color: str
    present: np.ndarray  # (T,) bool
    mass: np.ndarray  # (T,) soft area in working pixels
    cx: np.ndarray  # (T,) centroid x / width
    cy: np.ndarray  # (T,) centroid y / height
    mu2: np.ndarray  # (T,) complex central moments sum(a z^k), working pixels
    mu3: np.ndarray
    mu4: np.ndarray
    polar: np.ndarray  # (T,) sum(a |z|^2)
    left: np.ndarray  # (T,) core extents, normalized (right and bottom exclusive)
    right: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    dup: np.ndarray  # (T,) soft mass of the heaviest other blob of this colour (a twin?)
    mean_color: np.ndarray  # (T, 3) mean colour (YCbCr) of the blob's inside (coverage >= 0.9), nan if none
    row_left: np.ndarray  # (T, h) leftmost core column per row (px), nan where the row is empty
    row_right: np.ndarray  # (T, h) rightmost core column + 1 per row (px)


@dataclass
class Observation:
    """What the evaluator sees in a clip."""

    background: np.ndarray  # (3,) estimated RGB
    width: int  # working resolution
    height: int
    factor: int  # downsampling factor from the input
    tracks: dict[str, Track]  # the described colours
    others: dict[str, Track]  # other palette colours with enough pixels to hold an object

    @property
    def shorter(self) -> int:
        return min(self.width, self.height)


def smallest_area(shorter: int) -> float:
    """Area (px) of the smallest object the world draws: a small triangle shrunk by 1.8."""
    r = vocab.SIZES["small"] * shorter / vocab.GROW_FACTOR
    return vocab.SHAPE_AREA["triangle"] * r * r


def observe(frames: np.ndarray, colors: list[str]) -> Observation:
    """Segment a clip and track the main blob of each colour in `colors` (and of any other
    palette colour with, in some frame, at least half the smallest object's area)."""
    rgb, k = downsample(frames)  # (T, h, w, 3) float32
    t, h, w, _ = rgb.shape
    bg_rgb = estimate_background(rgb)
    work, bg = to_ycc(rgb), to_ycc(bg_rgb)
    labels, weights = segment(work, bg)
    core = (labels >= 0) & (weights >= CORE)
    ft = np.nonzero(core)[0]
    counts = np.bincount(ft * 8 + labels[core].astype(np.int64), minlength=t * 8).reshape(t, 8)
    enough = counts.max(axis=0) >= 0.5 * smallest_area(min(h, w))
    tracks: dict[str, Track] = {}
    others: dict[str, Track] = {}
    for ci, name in enumerate(PALETTE_NAMES):
        if name in colors or enough[ci]:
            is_c = labels == ci
            track = _track(name, work, is_c, core & is_c, weights, PALETTE[ci])
            (tracks if name in colors else others)[name] = track
    return Observation(bg_rgb, w, h, k, tracks, others)


def _track(name: str, work: np.ndarray, is_c: np.ndarray, core: np.ndarray, weight: np.ndarray,
           color: np.ndarray) -> Track:
    """Main blob of one colour: is_c its pixels, core those >= CORE, weight every pixel's coverage."""
    t, h, w = core.shape
    comp, frame_of = label_components(core)
    main = choose_blobs(comp, frame_of, weight)  # component id per frame, 0 = none
    dup = np.zeros(t)
    if len(frame_of):
        ci = np.nonzero(comp)
        comp_mass = np.bincount(comp[ci] - 1, weights=weight[ci], minlength=len(frame_of))
        others = np.ones(len(frame_of), bool)
        others[main[main > 0] - 1] = False
        np.maximum.at(dup, frame_of[others], comp_mass[others])
    main_mask = (comp == main[:, None, None]) & (main[:, None, None] > 0)  # (T, h, w)
    region = dilate(main_mask, 2) & is_c  # the core plus its anti-aliased, blurred rim
    # Moments over the region's pixels only (sparse): per-frame sums by bincount.
    ft, fy, fx = np.nonzero(region)
    a = weight[ft, fy, fx].astype(np.float64)
    x, y = fx + 0.5, fy + 0.5

    def per_frame(v: np.ndarray) -> np.ndarray:
        return np.bincount(ft, weights=v, minlength=t)

    mass = per_frame(a)
    present = mass > 0
    safe = np.where(present, mass, 1.0)
    cxp, cyp = per_frame(a * x) / safe, per_frame(a * y) / safe  # (T,) pixels
    z = (x - cxp[ft]) + 1j * (y - cyp[ft])
    z2 = z * z
    mu2 = per_frame((a * z2).real) + 1j * per_frame((a * z2).imag)
    mu3 = per_frame((a * z2 * z).real) + 1j * per_frame((a * z2 * z).imag)
    mu4 = per_frame((a * z2 * z2).real) + 1j * per_frame((a * z2 * z2).imag)
    polar = per_frame(a * (z.real**2 + z.imag**2))
    cols, rws = main_mask.any(axis=1), main_mask.any(axis=2)  # (T, w), (T, h)
    left = np.where(present, cols.argmax(axis=1), 0) / w
    right = np.where(present, w - cols[:, ::-1].argmax(axis=1), 0) / w
    top = np.where(present, rws.argmax(axis=1), 0) / h
    bottom = np.where(present, h - rws[:, ::-1].argmax(axis=1), 0) / h
    row_left = np.where(rws, main_mask.argmax(axis=2), np.nan)
    row_right = np.where(rws, w - main_mask[:, :, ::-1].argmax(axis=2), np.nan)
    inner = weight[ft, fy, fx] >= 0.9
    cnt = np.bincount(ft[inner], minlength=t)
    px = work[ft[inner], fy[inner], fx[inner]]  # (n, 3)
    mean = np.stack([np.bincount(ft[inner], weights=px[:, c], minlength=t) for c in range(3)], 1).astype(np.float64)
    mean /= np.maximum(cnt, 1)[:, None]
    mean[cnt == 0] = np.nan
    return Track(name, present, mass, cxp / w, cyp / h, mu2, mu3, mu4, polar, left, right, top, bottom,
                 dup, mean, row_left, row_right)


# Reference shape features (rotation and scale invariant), from the exact shapes:
# c_k = |sum a z^k| / mass^(1 + k/2). Square: mu4 = -s^6/60 for side s, so c4 = 1/60. Triangle:
# mu3 = i 3 sqrt(3)/40 R^5 with area 3 sqrt(3)/4 R^2. Circles have neither (k-fold symmetry).
C4_SQUARE = 1 / 60
C3_TRIANGLE = (3 * math.sqrt(3) / 40) / (3 * math.sqrt(3) / 4) ** 2.5
# polar moment / mass^2: circle 1/(2 pi), square 1/6, triangle sqrt(3)/9
POLAR = {"circle": 1 / (2 * math.pi), "square": 1 / 6, "triangle": math.sqrt(3) / 9}
