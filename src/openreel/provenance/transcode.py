"""Re-encode a video the way `ffmpeg -vf ... -crf N` would, through PyAV: the watermark's attacks.

    ffmpeg -i v.mp4 -crf 28 -vf scale=iw/2:-2 w.mp4
    == transcode("v.mp4", "w.mp4", crf=28, scale=0.5)

Filters run in ffmpeg's order (scale, then crop, then trim) on decoded frames, scaling with
swscale's bicubic (ffmpeg's default), then one libx264 encode at the given CRF. Used by the
robustness benchmark, the tests and docs/provenance.md where the ffmpeg binary is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from openreel.video.io import read_video, write_mp4


def rescale(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic resize of (T, H, W, 3) uint8 frames through swscale."""
    out = []
    for f in frames:
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        out.append(vf.reformat(width=width, height=height, interpolation="BICUBIC").to_ndarray(format="rgb24"))
    return np.stack(out)


def even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def down_up(frames: np.ndarray, factor: float = 0.5) -> np.ndarray:
    """Scale by `factor`, then back to the original size (detail below the small size is gone)."""
    h, w = frames.shape[1:3]
    return rescale(rescale(frames, even(w * factor), even(h * factor)), w, h)


def center_crop(frames: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Drop `fraction` of the width and height, centred (ffmpeg's crop=iw*0.9:ih*0.9)."""
    h, w = frames.shape[1:3]
    nh, nw = even(h * (1 - fraction) - 1), even(w * (1 - fraction) - 1)
    y0, x0 = (h - nh) // 2, (w - nw) // 2
    return frames[:, y0:y0 + nh, x0:x0 + nw]


def attack(frames: np.ndarray, fps: float, *, crf: int, scale: float | None = None, down_up_scale: bool = False,
           crop: float = 0.0, trim_seconds: float | None = None) -> np.ndarray:
    """Frames after the filters (before the encode): scale, crop, trim, in that order."""
    if down_up_scale:
        frames = down_up(frames)
    if scale is not None:
        h, w = frames.shape[1:3]
        frames = rescale(frames, even(w * scale), even(h * scale))
    if crop:
        frames = center_crop(frames, crop)
    if trim_seconds is not None:
        frames = frames[: max(1, int(round(trim_seconds * fps)))]
    return frames


def transcode(src: str | os.PathLike, dst: str | os.PathLike, *, crf: int, **filters) -> Path:
    """Decode `src`, apply `attack` filters, encode `dst` with libx264 at `crf` (no metadata, no manifest)."""
    video = read_video(src)
    return write_mp4(attack(video.frames, video.fps, crf=crf, **filters), dst, video.fps, crf=crf)
