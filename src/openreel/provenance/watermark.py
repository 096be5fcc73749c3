"""Invisible watermark: a 48-bit payload in every frame, found again after H.264, scaling and cropping.

Why it is built this way (measurements in docs/provenance.md and benchmarks/results/watermark.json):

- Luma only, the same delta on R, G and B: yuv420p halves chroma, luma goes through it untouched.
- Spread spectrum on a tiled pattern. A 128x128-pixel tile of 16x16 chips (8x8 pixels, smoothed)
  repeats over the frame. Chips this size survive H.264 at CRF 28 and a half-size rescale; tiling
  turns a crop into a cyclic shift of the tile, which the detector finds by FFT correlation with a
  known sync pattern. A frame must hold one whole tile (`MIN_SIDE`), else `embed` refuses.
- The same pattern in every frame: H.264's P-frames carry it over from their reference, and the
  detector folds every tile of every frame into one before deciding (soft voting across frames).
- The payload (16-bit generator id + 32-bit content id) gets a CRC-16 and a rate-1/3, K=7
  convolutional code, decoded by soft Viterbi. The CRC bounds false positives: a clip without the
  mark passes it with probability 2^-16 per decode attempt, and `detect` makes at most
  `MAX_ATTEMPTS` attempts per clip (so at most ~1.2e-4 per clip).
- Strength adapts: stronger where texture hides it, and at black or white (where half the swing
  would clip) the other half is doubled instead.
- Layout and signs come from a key that is public by default: the mark says "made by OpenReel"
  to anyone; it is not a secret. Operators can set `OPENREEL_WATERMARK_KEY` (verify needs the same).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

TILE = 128  # pixels; the pattern repeats with this period
CHIP = 8  # pixels per chip side
GRID = TILE // CHIP  # chips per tile side
MIN_SIDE = TILE  # smallest frame side that holds a whole tile
SMOOTH = 1.6  # Gaussian sigma (pixels) that rounds the chips' edges
PAYLOAD_BITS = 48
GENERATOR_BITS = 16
CONTENT_BITS = PAYLOAD_BITS - GENERATOR_BITS
CRC_BITS = 16
OPENREEL_GENERATOR_ID = 0x3A9F  # the default generator id: "made with OpenReel"
DEFAULT_STRENGTH = 2.5  # RMS luma levels of the pattern in flat areas (about 40 dB PSNR)
DEFAULT_KEY = "openreel-watermark-v1"
SCALES = (1, 2)  # detection folds at period TILE, then TILE/2 (a copy re-encoded at half size)
CANDIDATES = 4  # sync peaks decoded per scale
MAX_ATTEMPTS = len(SCALES) * CANDIDATES
MAX_FRAMES = 64  # frames detection looks at (evenly spaced); more add little for a static mark
RESIDUAL_RADIUS = 4  # box radius of the detector's high-pass, at scale 1
RESIDUAL_CLIP = 3.0  # luma levels: near-sign detector, so edges and texture cannot dominate
REFERENCE_AREA = 256 * 256  # frame area the default strength is tuned for
SMALL_FRAME_BOOST = 1.6  # most extra strength for smaller frames
MASK_DIV = 8.0  # mean absolute deviation (luma levels) of an 8x8 block at which the gain saturates
MASK_MAX = 1.0  # extra gain in busy blocks: strength x (1 + up to this)

_GENS = (0o133, 0o171, 0o165)  # K=7, rate-1/3 convolutional code (LTE's generators)
_K = 7
_STATES = 1 << (_K - 1)
CODED_BITS = (PAYLOAD_BITS + CRC_BITS + _K - 1) * len(_GENS)  # 210
SYNC_CHIPS = GRID * GRID - CODED_BITS  # 46


class WatermarkUnavailable(ValueError):
    """The watermark cannot be applied to these frames; the message says why."""


@dataclass(frozen=True)
class Detection:
    """What `detect` found. `payload` is set only when its CRC checked out."""

    found: bool
    payload: int | None
    confidence: float  # 1 - (decode attempts made) x 2^-16: a bound on a chance CRC match; 0 if not found
    bit_agreement: float  # code bits that agree with the decoded codeword (1.0: no bit errors)
    sync_z: float  # robust z-score of the sync peak decoded last (a margin, not the decision)
    frames_voted: int
    scale: int  # 1: found at the original size; 2: in a copy scaled to half size
    shift: tuple[int, int]  # tile offset (y, x): a crop moves it
    guess: int = 0  # the payload bits decoded at the best peak even when the CRC failed (bit accuracy)

    @property
    def generator_id(self) -> int | None:
        return None if self.payload is None else self.payload >> CONTENT_BITS

    @property
    def content_id(self) -> int | None:
        return None if self.payload is None else self.payload & ((1 << CONTENT_BITS) - 1)


def make_payload(content_id: int, generator_id: int = OPENREEL_GENERATOR_ID) -> int:
    if not 0 <= generator_id < 1 << GENERATOR_BITS or not 0 <= content_id < 1 << CONTENT_BITS:
        raise ValueError(f"generator id must fit {GENERATOR_BITS} bits and content id {CONTENT_BITS} bits")
    return (generator_id << CONTENT_BITS) | content_id


def format_payload(payload: int) -> str:
    return f"0x{payload:0{PAYLOAD_BITS // 4}x}"


def format_content_id(content_id: int) -> str:
    return f"{content_id:0{CONTENT_BITS // 4}x}"


# --- payload coding: CRC-16, convolutional code, soft Viterbi ------------------------------------------

def _bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], np.uint8)


def _int(bits: np.ndarray) -> int:
    return int("".join(str(int(b)) for b in bits), 2)


def crc16(bits: np.ndarray) -> int:
    """CRC-16/CCITT-FALSE over a bit array, most significant bit first."""
    reg = 0xFFFF
    for b in bits:
        top = ((reg >> 15) & 1) ^ int(b)
        reg = (reg << 1) & 0xFFFF
        if top:
            reg ^= 0x1021
    return reg


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


@lru_cache(maxsize=1)
def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """prev[s, b]: the two states leading to state s; out[s, b]: the ±1 symbols on those branches."""
    prev = np.zeros((_STATES, 2), np.int64)
    out = np.zeros((_STATES, 2, len(_GENS)), np.float64)
    for s in range(_STATES):
        u = s >> (_K - 2)  # the newest input bit is the state's top bit
        for b in range(2):
            p = ((s << 1) & (_STATES - 1)) | b
            reg = (u << (_K - 1)) | p
            prev[s, b] = p
            out[s, b] = [1.0 - 2.0 * _parity(reg & g) for g in _GENS]
    return prev, out


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Rate-1/3 convolutional code, terminated with K-1 zeros; 0/1 code bits."""
    state, out = 0, []
    for u in [*bits, *([0] * (_K - 1))]:
        reg = (int(u) << (_K - 1)) | state
        out.extend(_parity(reg & g) for g in _GENS)
        state = reg >> 1
    return np.array(out, np.uint8)


def viterbi(soft: np.ndarray) -> np.ndarray:
    """Most likely message bits given soft symbols (positive means code bit 0); path ends in state 0."""
    prev, out = _trellis()
    n = len(_GENS)
    steps = len(soft) // n
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    choice = np.zeros((steps, _STATES), np.uint8)
    for t in range(steps):
        cand = metric[prev] + out @ soft[t * n:(t + 1) * n]
        choice[t] = cand.argmax(1)
        metric = cand.max(1)
    state, bits = 0, []
    for t in range(steps - 1, -1, -1):
        bits.append(state >> (_K - 2))
        state = prev[state, choice[t, state]]
    return np.array(bits[::-1][: steps - (_K - 1)], np.uint8)


def encode_payload(payload: int) -> np.ndarray:
    """48 payload bits + their CRC-16 -> 210 code symbols, ±1."""
    bits = _bits(payload, PAYLOAD_BITS)
    message = np.concatenate([bits, _bits(crc16(bits), CRC_BITS)])
    return 1.0 - 2.0 * conv_encode(message).astype(np.float32)


def decode_payload(soft: np.ndarray) -> tuple[int | None, float, int]:
    """(payload, or None when the CRC fails; share of code symbols agreeing with the decoded
    codeword; the decoded payload bits whatever the CRC says, for measuring bit accuracy)."""
    message = viterbi(np.asarray(soft, np.float64))
    bits, crc = message[:PAYLOAD_BITS], message[PAYLOAD_BITS:]
    agreement = float(np.mean(np.sign(soft) == encode_payload(_int(bits))))
    return (_int(bits) if crc16(bits) == _int(crc) else None), agreement, _int(bits)


# --- the pattern --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    sync: np.ndarray  # chip indices carrying the known sync signs
    data: np.ndarray  # chip index of each code symbol (a keyed permutation spreads them out)
    signs: np.ndarray  # ±1 spreading sign per chip
    kernel: np.ndarray  # (TILE, TILE): one chip's shape at the origin, periodic


def watermark_key() -> str:
    return os.environ.get("OPENREEL_WATERMARK_KEY") or DEFAULT_KEY


@lru_cache(maxsize=4)
def layout(key: str) -> Layout:
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    order = rng.permutation(GRID * GRID)
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), GRID * GRID)
    box = np.zeros((TILE, TILE), np.float32)
    box[:CHIP, :CHIP] = 1.0
    return Layout(sync=order[:SYNC_CHIPS], data=order[SYNC_CHIPS:], signs=signs, kernel=_smooth(box))


def _smooth(tile: np.ndarray) -> np.ndarray:
    """Periodic Gaussian blur: the tile repeats, so its blur wraps around."""
    f = np.fft.fftfreq(tile.shape[0])
    g = np.exp(-2 * (math.pi * SMOOTH) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    return np.real(np.fft.ifft2(np.fft.fft2(tile) * g)).astype(np.float32)


@lru_cache(maxsize=8)
def tile(payload: int, key: str) -> np.ndarray:
    """The (TILE, TILE) pattern that carries `payload`, unit RMS."""
    lay = layout(key)
    chips = np.ones(GRID * GRID, np.float32)
    chips[lay.data] = encode_payload(payload)
    chips = (chips * lay.signs).reshape(GRID, GRID)
    t = _smooth(np.kron(chips, np.ones((CHIP, CHIP), np.float32)))
    return t / np.float32(np.sqrt(np.mean(t**2)))


# --- embedding ----------------------------------------------------------------------------------------

def check_size(width: int, height: int) -> None:
    """Raise `WatermarkUnavailable` for frames that cannot hold a whole tile."""
    if min(width, height) < MIN_SIDE:
        raise WatermarkUnavailable(f"frame {width}x{height} is smaller than the watermark's minimum "
                                   f"{MIN_SIDE}x{MIN_SIDE}")


def embed(frames: np.ndarray, payload: int, *, strength: float = DEFAULT_STRENGTH,
          key: str | None = None) -> np.ndarray:
    """Watermarked copies of (T, H, W, 3) uint8 frames; `WatermarkUnavailable` if they are too small."""
    _, h, w, _ = frames.shape
    check_size(w, h)
    pattern = np.tile(tile(payload, key or watermark_key()), (-(-h // TILE), -(-w // TILE)))[:h, :w]
    strength = effective_strength(strength, w, h)
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        out[i] = _embed_frame(frame, pattern, strength)
    return out


def effective_strength(strength: float, width: int, height: int) -> float:
    """Frames smaller than 256x256 get a stronger mark (up to SMALL_FRAME_BOOST x), so that the
    mark's total energy per frame, which is what detection depends on, stays about the same."""
    return strength * float(np.clip(math.sqrt(REFERENCE_AREA / (width * height)), 1.0, SMALL_FRAME_BOOST))


def _embed_frame(frame: np.ndarray, pattern: np.ndarray, strength: float) -> np.ndarray:
    y = luma(frame)
    delta = pattern * (strength * _mask(y))
    # Near black (or white) half the swing would clip; double the other half so the chip keeps its sign.
    reach = 2.0 * strength
    up = 1.0 + np.clip(1.0 - y / reach, 0.0, 1.0)
    down = 1.0 + np.clip(1.0 - (255.0 - y) / reach, 0.0, 1.0)
    delta *= np.where(delta > 0, up, down)
    step = np.rint(delta).astype(np.int16)[..., None]  # the same integer step on R, G and B
    return np.clip(frame.astype(np.int16) + step, 0, 255).astype(np.uint8)


def _mask(y: np.ndarray) -> np.ndarray:
    """Per 8x8 block: 1 where flat, up to 2 where busy (texture hides the pattern; flat areas show it)."""
    h, w = y.shape
    ph, pw = -(-h // CHIP) * CHIP, -(-w // CHIP) * CHIP
    blocks = np.pad(y, ((0, ph - h), (0, pw - w)), mode="edge").reshape(ph // CHIP, CHIP, pw // CHIP, CHIP)
    busy = np.abs(blocks - blocks.mean((1, 3), keepdims=True)).mean((1, 3))
    gain = 1.0 + np.clip(busy / MASK_DIV, 0.0, MASK_MAX)
    return np.repeat(np.repeat(gain, CHIP, 0), CHIP, 1)[:h, :w].astype(np.float32)


# --- detection ----------------------------------------------------------------------------------------

def luma(frame: np.ndarray) -> np.ndarray:
    f = frame.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def box_blur(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window with edges replicated, in O(pixels) by cumulative sums."""
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(x, pad, mode="edge"), axis=axis, dtype=np.float32)
        n = x.shape[axis]
        hi = np.take(c, np.arange(2 * r + 1, n + 2 * r + 1), axis)
        x = (hi - np.take(c, np.arange(n), axis)) / (2 * r + 1)
    return x


def residual(y: np.ndarray, radius: int) -> np.ndarray:
    """High-passed luma, clipped: drops the picture, keeps chip-scale detail, tames edges."""
    return np.clip(y - box_blur(y, radius), -RESIDUAL_CLIP, RESIDUAL_CLIP)


class Folder:
    """Sums every `period` x `period` tile of every frame into one (the soft vote across frames)."""

    def __init__(self, period: int) -> None:
        self.period = period
        self.total = np.zeros((period, period), np.float64)
        self.count = np.zeros((period, period), np.float64)
        self.frames = 0

    def add(self, r: np.ndarray) -> None:
        p = self.period
        h, w = r.shape
        ph, pw = -(-h // p) * p, -(-w // p) * p
        padded, seen = np.zeros((ph, pw), np.float32), np.zeros((ph, pw), np.float32)
        padded[:h, :w], seen[:h, :w] = r, 1.0
        self.total += padded.reshape(ph // p, p, pw // p, p).sum((0, 2))
        self.count += seen.reshape(ph // p, p, pw // p, p).sum((0, 2))
        self.frames += 1

    def folded(self) -> np.ndarray:
        """The mean tile, resampled to TILE x TILE (exactly, in Fourier space: the tile is periodic)."""
        mean = self.total / np.maximum(self.count, 1.0)
        if self.period == TILE:
            return mean
        spectrum = np.fft.fftshift(np.fft.fft2(mean))
        pad = (TILE - self.period) // 2
        spectrum = np.pad(spectrum, pad)
        return np.real(np.fft.ifft2(np.fft.ifftshift(spectrum))) * (TILE / self.period) ** 2


def detect(frames: np.ndarray, *, key: str | None = None, scales: tuple[int, ...] = SCALES,
           max_frames: int = MAX_FRAMES) -> Detection:
    """Look for the watermark in (T, H, W, 3) uint8 frames: each scale in turn until a payload decodes."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_frames)).round().astype(int))
    lumas = [luma(frames[i]) for i in picks]
    key = key or watermark_key()
    attempts, best = 0, None
    for scale in scales:
        period = TILE // scale
        if min(frames.shape[1:3]) < period // 2:  # a partial tile still decodes (missing chips are erasures)
            continue
        folder = Folder(period)
        for y in lumas:
            folder.add(residual(y, max(1, RESIDUAL_RADIUS // scale)))
        result, tried = _decode(folder.folded(), key, attempts)
        attempts += tried
        result = Detection(**{**asdict(result), "frames_voted": folder.frames, "scale": scale})
        if result.found:
            return result
        best = best or result
    return best or Detection(False, None, 0.0, 0.0, 0.0, 0, 1, (0, 0))


def _decode(folded: np.ndarray, key: str, attempts_before: int) -> tuple[Detection, int]:
    """Find the tile's shift by sync correlation, then decode the payload at the strongest peaks."""
    lay = layout(key)
    chip = np.real(np.fft.ifft2(np.fft.fft2(folded) * np.conj(np.fft.fft2(lay.kernel))))  # matched filter
    sync = np.zeros((TILE, TILE))
    gy, gx = np.divmod(lay.sync, GRID)
    sync[gy * CHIP, gx * CHIP] = lay.signs[lay.sync]
    corr = np.real(np.fft.ifft2(np.fft.fft2(chip) * np.conj(np.fft.fft2(sync))))
    z = (corr - np.median(corr)) / (1.4826 * np.median(np.abs(corr - np.median(corr))) + 1e-12)
    dy, dx = np.divmod(lay.data, GRID)
    result = None
    for n, peak in enumerate(_peaks(z, CANDIDATES), start=1):
        sy, sx = _refine(chip, lay, *peak)
        soft = chip[(dy * CHIP + sy) % TILE, (dx * CHIP + sx) % TILE] * lay.signs[lay.data]
        payload, agreement, guess = decode_payload(soft)
        found = payload is not None
        confidence = 1.0 - (attempts_before + n) * 2.0**-CRC_BITS if found else 0.0
        candidate = Detection(found, payload, confidence, agreement, float(z[sy, sx]), 0, 1, (sy, sx), guess)
        if found:
            return candidate, n
        result = result or candidate
    return result, CANDIDATES


def _refine(chip: np.ndarray, lay: Layout, sy: int, sx: int, reach: int = 2) -> tuple[int, int]:
    """The shift within `reach` pixels of a sync peak where all chips (sync signed, data by magnitude)
    are strongest: sync alone is a small share of the tile and can peak a pixel off. One shift comes
    out, so the number of decode attempts (and the false-positive bound) is unchanged."""
    gy, gx = np.divmod(np.arange(GRID * GRID), GRID)
    is_sync = np.zeros(GRID * GRID, bool)
    is_sync[lay.sync] = True
    best, best_score = (sy, sx), -np.inf
    for ty in range(sy - reach, sy + reach + 1):
        for tx in range(sx - reach, sx + reach + 1):
            v = chip[(gy * CHIP + ty) % TILE, (gx * CHIP + tx) % TILE] * lay.signs
            score = v[is_sync].sum() + np.abs(v[~is_sync]).sum()
            if score > best_score:
                best, best_score = (ty % TILE, tx % TILE), score
    return best


def _peaks(z: np.ndarray, n: int) -> list[tuple[int, int]]:
    """The n highest cyclic maxima, each at least a chip away from the others."""
    z = z.copy()
    out = []
    for _ in range(n):
        sy, sx = (int(v) for v in np.unravel_index(np.argmax(z), z.shape))
        out.append((sy, sx))
        near = np.arange(-CHIP + 1, CHIP)
        z[np.ix_((near + sy) % TILE, (near + sx) % TILE)] = -np.inf
    return out
