"""Shape read frame by frame: how well a reconstruction keeps each object's outline.

The clip's shape check (`score.py`) gives one verdict per object, from the larger half of its
frames, so a VAE experiment moves it by a clip or two of 64: noise. Here the shape is read in
every frame where the original shows the object whole (off the edges, apart from the others) and
reads as its own shape, and the reconstruction's blob of that colour in the same frame is read
the same way: hundreds of object-frames per 32 clips, by size and shape, so a change in how a
VAE draws corners shows up, and where (small objects, first frame). Like the clip checks it reads
at the evaluator's working size (frames over 128 px are box-averaged down first), so clips
rendered at 256x256 are read as finely as those at 128x128, not more.

    rows = frame_shapes(original, reconstruction, scene)   # (T, H, W, 3) uint8 each
    shape_accuracy(rows)["by_size"]                        # {"large": 0.8, "medium": 0.27, ...}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openreel.eval import segment as seg
from openreel.eval.score import apart, classify_shape, shape_features, touches_edge
from openreel.world.scene import Scene

MISSING = "missing"  # the reconstruction has under half the original's blob in that frame


@dataclass(frozen=True)
class FrameShape:
    shape: str  # the scene's
    size: str
    frame: int
    got: str  # what the reconstruction reads as: circle, square, triangle, other or missing

    @property
    def correct(self) -> bool:
        return self.got == self.shape


def _read(tr: seg.Track, t: int) -> str:
    one = np.zeros(len(tr.present), bool)
    one[t] = True
    return classify_shape(shape_features(tr, one))


def frame_shapes(original: np.ndarray, recon: np.ndarray, scene: Scene) -> list[FrameShape]:
    """One row per object and frame where the original's shape is readable (frames (T, H, W, 3) uint8)."""
    if original.shape != recon.shape:
        raise ValueError(f"original {original.shape} and reconstruction {recon.shape} differ in shape")
    colors = [o.color for o in scene.objects]
    before, after = seg.observe(original, colors), seg.observe(recon, colors)
    rows = []
    for o in scene.objects:
        a, b = before.tracks[o.color], after.tracks[o.color]
        whole = a.present & ~touches_edge(a) & apart(before, a)
        for t in np.flatnonzero(whole):
            if _read(a, t) != o.shape:
                continue  # not even the original reads as its shape here (a sliver of a spin, say)
            kept = b.present[t] and b.mass[t] >= 0.5 * a.mass[t]
            rows.append(FrameShape(o.shape, o.size, int(t), _read(b, t) if kept else MISSING))
    return rows


def _share(rows: list[FrameShape]) -> float | None:
    return round(sum(r.correct for r in rows) / len(rows), 4) if rows else None


def shape_accuracy(rows: list[FrameShape]) -> dict:
    """Share of object-frames read as the right shape: overall, by size, by shape, first frame vs
    the rest (a causal video VAE codes the first frame alone), and what wrong ones read as."""
    wrong: dict[str, int] = {}
    for r in rows:
        if not r.correct:
            wrong[f"{r.shape}->{r.got}"] = wrong.get(f"{r.shape}->{r.got}", 0) + 1
    return {
        "object_frames": len(rows),
        "correct": _share(rows),
        "by_size": {s: _share([r for r in rows if r.size == s]) for s in sorted({r.size for r in rows})},
        "by_shape": {s: _share([r for r in rows if r.shape == s]) for s in sorted({r.shape for r in rows})},
        "first_frame": _share([r for r in rows if r.frame == 0]),
        "later_frames": _share([r for r in rows if r.frame > 0]),
        "wrong": dict(sorted(wrong.items())),
    }
