"""Video files: H.264 MP4 through PyAV; GIF and PNG contact sheets through Pillow.

Frames everywhere in OpenReel are uint8 arrays shaped (T, H, W, 3), RGB.
Every writer is atomic: it writes a temporary file beside the target and renames it,
so a crash never leaves a half-written video under the final name.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np
from PIL import Image

# MP4 metadata key that carries the JSON generation record (ffmpeg's mp4 muxer keeps custom
# keys only with movflags=use_metadata_tags; "comment" is also set so common tools show it).
RECORD_KEY = "openreel_record"


@dataclass
class VideoFile:
    """What `read_video` returns."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def record(self) -> dict | None:
        """The OpenReel generation record embedded in the file, if any."""
        raw = self.metadata.get(RECORD_KEY)
        return json.loads(raw) if raw else None


def check_frames(frames: np.ndarray) -> np.ndarray:
    """Validate a (T, H, W, 3) uint8 frame array and return it contiguous."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        raise ValueError(f"frames must be a (T, H, W, 3) array, got shape {shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.shape[0] == 0:
        raise ValueError("frames is empty (T = 0)")
    return np.ascontiguousarray(frames)


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; a finished file gets the usual mode
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    """The process umask, read without setting it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def write_mp4(
    frames: np.ndarray,
    path: str | os.PathLike,
    fps: float,
    *,
    crf: int = 18,
    preset: str = "medium",
    metadata: dict[str, str] | None = None,
) -> Path:
    """Encode frames as H.264 (yuv420p) in an MP4 container.

    `crf` is libx264's constant rate factor: 0 is lossless in YUV, 18 visually lossless, 23 the
    x264 default. yuv420p halves chroma resolution, so width and height must be even.
    """
    frames = check_frames(frames)
    _, height, width, _ = frames.shape
    if width % 2 or height % 2:
        raise ValueError(f"H.264 yuv420p needs an even width and height, got {width}x{height}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart+use_metadata_tags"}) as out:
            for key, value in (metadata or {}).items():
                out.metadata[key] = value
            stream = out.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": preset}
            for frame in frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            out.mux(stream.encode())
    return Path(path)


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> VideoFile:
    """Decode a video file (any format FFmpeg reads) into uint8 RGB frames."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no video file at {path}")
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or 0
        frames = []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if max_frames is not None and len(frames) >= max_frames:
                break
        metadata = dict(container.metadata)
    if not frames:
        raise ValueError(f"{path} has no decodable frames")
    return VideoFile(frames=np.stack(frames), fps=float(rate), metadata=metadata)


def write_gif(frames: np.ndarray, path: str | os.PathLike, fps: float) -> Path:
    """Write an animated, looping GIF (palette per frame; fine for quick looks)."""
    frames = check_frames(frames)
    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
        )
    return Path(path)


def contact_sheet(frames: np.ndarray, *, count: int = 8, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Tile `count` evenly spaced frames into one image, left to right, top to bottom."""
    frames = check_frames(frames)
    count = max(1, min(count, len(frames)))
    picks = frames[np.linspace(0, len(frames) - 1, count).round().astype(int)]
    columns = columns or min(count, 8)
    rows = math.ceil(count / columns)
    _, h, w, _ = frames.shape
    sheet = np.full((rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), 255, np.uint8)
    for i, frame in enumerate(picks):
        r, c = divmod(i, columns)
        sheet[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = frame
    return sheet


def write_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write an (H, W, 3) uint8 image as PNG."""
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return Path(path)


def remux(src: str | os.PathLike, dst: str | os.PathLike, metadata: dict[str, str]) -> Path:
    """Copy `src`'s video packets into a new MP4 at `dst` with container metadata; no re-encode."""
    with av.open(str(src)) as inp, atomic_path(dst) as tmp:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart+use_metadata_tags"}) as out:
            out.metadata.update(metadata)
            stream = out.add_stream_from_template(inp.streams.video[0])
            for packet in inp.demux(inp.streams.video[0]):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                packet.stream = stream
                out.mux(packet)
    return Path(dst)
