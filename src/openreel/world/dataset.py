"""Datasets of the shapes world: a folder of clips plus `metadata.jsonl` (docs/dataset-format.md).

Clip i of a dataset with seed s is a pure function of (s, i): its scene is drawn from
`default_rng([s, i, 0])` and its captions from `default_rng([s, i, 1])`. So a dataset is the
same whatever the number of workers, and the trainer can stream the identical clips in memory
(`stream`) without writing files.

Writing is atomic: clips and metadata go to a hidden temporary folder beside the target, which
is renamed into place at the end; an existing non-empty target is refused unless `force`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from openreel.errors import InvalidInput
from openreel.world import vocab
from openreel.world.captions import LANGS, captions
from openreel.world.physics import simulate
from openreel.world.render import render
from openreel.world.sampler import SceneDist, sample_scene
from openreel.world.scene import Scene

FORMAT = "openreel-video-folder"
FORMAT_VERSION = 1
METADATA = "metadata.jsonl"
INFO = "dataset.json"
MAX_CRF = 12  # datasets are lossless or near lossless (issue 3)


@dataclass
class WorldSample:
    index: int
    scene: Scene
    trajectory: np.ndarray  # (T, N, 4)
    frames: np.ndarray  # (T, H, W, 3) uint8
    captions: dict[str, list[str]] = field(default_factory=dict)


def make_sample(seed: int, index: int, dist: SceneDist | None = None, *, n_captions: int = 3,
                frames: bool = True) -> WorldSample:
    """Clip `index` of the dataset with this seed: scene, exact trajectory, frames, captions."""
    scene = sample_scene(np.random.default_rng([seed, index, 0]), dist)
    traj = simulate(scene)
    rng = np.random.default_rng([seed, index, 1])
    caps = {lang: captions(scene, rng, lang, n_captions) for lang in LANGS}
    video = render(scene, traj) if frames else np.zeros((0,), np.uint8)
    return WorldSample(index, scene, traj, video, caps)


def stream(seed: int, dist: SceneDist | None = None, start: int = 0, n_captions: int = 3) -> Iterator[WorldSample]:
    """Endless in-memory clips start, start + 1, ... identical to those `write_dataset` writes."""
    index = start
    while True:
        yield make_sample(seed, index, dist, n_captions=n_captions)
        index += 1


def clip_name(index: int) -> str:
    return f"clips/{index:06d}.mp4"


def record(sample: WorldSample, seed: int) -> dict[str, Any]:
    """One metadata.jsonl line (spec section 6 keys plus id, seed, index)."""
    return {
        "id": f"{sample.index:06d}",
        "video": clip_name(sample.index),
        "captions": sample.captions,
        "scene": sample.scene.to_dict(sample.trajectory),
        "seed": seed,
        "index": sample.index,
    }


def _write_clip(job: tuple[str, int, int, dict, int, int]) -> str:
    folder, seed, index, dist_dict, crf, n_captions = job
    from openreel.video.io import write_mp4

    sample = make_sample(seed, index, SceneDist.from_dict(dist_dict), n_captions=n_captions)
    write_mp4(sample.frames, Path(folder) / clip_name(index), vocab.FPS, crf=crf)
    return json.dumps(record(sample, seed), ensure_ascii=False)


def check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InvalidInput("out", f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InvalidInput("out", f"{out} already exists and is not empty; pass --force to overwrite it")


def write_dataset(out: str | os.PathLike, count: int, *, seed: int = 0, dist: SceneDist | None = None,
                  workers: int = 1, crf: int = 10, n_captions: int = 3, force: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Render `count` clips into the folder `out`; returns the dataset info (also in dataset.json)."""
    out = Path(out)
    dist = dist or SceneDist()
    if count < 1:
        raise InvalidInput("count", f"must be at least 1, got {count}")
    if not 0 <= crf <= MAX_CRF:
        raise InvalidInput("crf", f"dataset videos are lossless or near lossless: CRF 0 to {MAX_CRF}, got {crf}")
    if dist.size % 2:
        raise InvalidInput("size", f"H.264 needs even frame sizes, got {dist.size}")
    if workers < 1:
        raise InvalidInput("workers", f"must be at least 1, got {workers}")
    check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    started = time.perf_counter()
    try:
        (tmp / "clips").mkdir()
        jobs = [(str(tmp), seed, i, dist.to_dict(), crf, n_captions) for i in range(count)]
        with open(tmp / METADATA, "w", encoding="utf-8") as meta:
            if workers == 1:
                lines: Iterator[str] = map(_write_clip, jobs)
                _drain(lines, meta, count, progress)
            else:
                ctx = multiprocessing.get_context("spawn")  # no fork: the caller may hold threads
                with ctx.Pool(workers) as pool:
                    _drain(pool.imap(_write_clip, jobs, chunksize=4), meta, count, progress)
        info = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "generator": "openreel.world",
            "spec_version": vocab.SPEC_VERSION, "count": count, "seed": seed, "fps": vocab.FPS,
            "codec": "h264", "pix_fmt": "yuv420p", "crf": crf, "dist": dist.to_dict(),
            "seconds_to_write": round(time.perf_counter() - started, 2), "workers": workers,
        }
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        _swap_into_place(tmp, out, force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def _drain(lines: Iterator[str], meta, count: int, progress) -> None:
    # imap yields in index order, so lines land in index order whatever the worker count
    for done, line in enumerate(lines, 1):
        meta.write(line + "\n")
        if progress:
            progress(done, count)


def _swap_into_place(tmp: Path, out: Path, force: bool) -> None:
    check_target(out, force)  # again: something may have appeared while we rendered
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# -- reading ---------------------------------------------------------------------------------


def read_metadata(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Lines of a metadata.jsonl (give the file or its folder); checks the required keys."""
    path = Path(path)
    if path.is_dir():
        path = path / METADATA
    if not path.is_file():
        raise InvalidInput("scenes", f"no metadata file at {path}")
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput("scenes", f"{path}:{n} is not JSON ({exc.msg})") from None
            for key in ("video", "captions"):
                if key not in row:
                    raise InvalidInput("scenes", f"{path}:{n} has no {key!r} key")
            rows.append(row)
    return rows
