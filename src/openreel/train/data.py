"""Training data: clips from the shapes world (generated on the fly) or from a folder of videos.

Both sources answer `clip(index) -> (frames, captions)`. What a step trains on is a pure function
of (seed, sample position): which clip, which caption, dropout, noise, timestep. So a run resumes
exactly from its data position, and N processes with per-process batch B see the same samples as
one process with batch N·B (process r takes slice r of every global batch).

Folder datasets follow docs/dataset-format.md: `metadata.jsonl` lines with `video` (a path relative
to the folder) and `captions` (a list, or {"en": [...], "zh": [...]}); `metadata.csv` with columns
`video,caption` works too. Clips are resampled to the target fps and frame count, resized and
centre-cropped to their aspect-ratio bucket; a global batch never mixes buckets.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from openreel.errors import InvalidInput
from openreel.request import aspect_size
from openreel.train.config import DataSection

PURPOSE = {"caption": 1, "dropout": 2, "noise": 3, "sigma": 4, "prefix": 5, "posterior": 6, "crop": 7}


def sample_seed(seed: int, position: int, purpose: str) -> int:
    """A 63-bit seed that depends only on (run seed, global sample position, purpose)."""
    state = np.random.SeedSequence([seed, position, PURPOSE[purpose]]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def sample_generator(seed: int, position: int, purpose: str) -> torch.Generator:
    return torch.Generator().manual_seed(sample_seed(seed, position, purpose))


def channels_first(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 → (3, T, H, W) uint8. Clips stay bytes until they reach the model's device:
    a quarter of the float traffic between data workers and the trainer."""
    return torch.from_numpy(np.ascontiguousarray(frames.transpose(3, 0, 1, 2)))


def to_model_range(frames: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 (..., 3, T, H, W) → float in [-1, 1], on `device`."""
    return frames.to(device).float().div(127.5).sub(1.0)


def resize_crop(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover width x height, then centre-crop: (T, h, w, 3) → (T, height, width, 3)."""
    _, h, w, _ = frames.shape
    if (w, h) == (width, height):
        return frames
    scale = max(width / w, height / h)
    sw, sh = max(width, round(w * scale)), max(height, round(h * scale))
    left, top = (sw - width) // 2, (sh - height) // 2
    out = [np.asarray(Image.fromarray(f).resize((sw, sh), Image.BICUBIC))[top:top + height, left:left + width]
           for f in frames]
    return np.stack(out)


def resample_frames(frames: np.ndarray, src_fps: float, fps: float, count: int) -> np.ndarray | None:
    """`count` frames at `fps` from the start of a clip at `src_fps` (nearest source frame); None if too short."""
    times = np.arange(count) / fps
    index = np.round(times * src_fps).astype(int)
    if index[-1] >= len(frames):
        return None
    return frames[index]


def random_crop(frames: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """The same random size x size window of every frame: (3, T, H, W) → (3, T, size, size)."""
    height, width = frames.shape[-2:]
    if size > min(height, width):
        raise InvalidInput("data.crop", f"must be at most the clip's {width}x{height}, got {size}")
    top = int(torch.randint(height - size + 1, (), generator=generator))
    left = int(torch.randint(width - size + 1, (), generator=generator))
    return frames[..., top:top + size, left:left + size].contiguous()


@dataclass
class Clip:
    frames: torch.Tensor  # (3, T, H, W) uint8
    captions: dict[str, list[str]]  # language → captions ("any" when unknown)


class WorldSource:
    """The shapes world as an endless dataset: clip i is rendered from (seed, i)."""

    def __init__(self, cfg: DataSection):
        from openreel.world.sampler import SceneDist

        if cfg.fps != 16:
            raise InvalidInput("data.fps", f"the shapes world runs at 16 fps, got {cfg.fps:g}")
        if cfg.width != cfg.height:
            raise InvalidInput("data.width", "world clips are square here; set width = height")
        self.cfg = cfg
        seconds = max(1.0, (cfg.frames - 1) / 16)  # the world renders whole-second-or-longer clips; cut after
        self.dist = SceneDist(size=max(64, cfg.width), seconds={seconds: 1.0})  # world minimum 64 px; scale after
        self.size = None if cfg.limit is None else cfg.limit

    def __len__(self) -> int:
        return self.size or 2**62

    def bucket(self, index: int) -> tuple[int, int]:
        return self.cfg.width, self.cfg.height

    def clip(self, index: int) -> Clip:
        from openreel.world.dataset import make_sample

        sample = make_sample(self.cfg.seed, index, self.dist)
        frames = resize_crop(sample.frames[: self.cfg.frames], self.cfg.width, self.cfg.height)
        return Clip(channels_first(frames), sample.captions)


class FolderSource:
    """A folder of videos with `metadata.jsonl` (or `metadata.csv`)."""

    def __init__(self, cfg: DataSection, multiple: int = 16):
        if not cfg.path:
            raise InvalidInput("data.path", "data.source = 'folder' needs data.path, the dataset folder")
        self.cfg, self.root = cfg, Path(cfg.path)
        self.entries = read_entries(self.root)[: cfg.limit]
        if not self.entries:
            raise InvalidInput("data.path", f"{self.root} lists no clips")
        # the same rule as generation's --aspect, so a model is trained at the sizes it is asked for
        short = min(cfg.width, cfg.height)
        self.buckets = [(cfg.width, cfg.height)] + [aspect_size(a, short, multiple) for a in ("16:9", "9:16")]
        self._bucket_of: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def bucket(self, index: int) -> tuple[int, int]:
        """The bucket whose aspect ratio is nearest the clip's (read from metadata, else the file)."""
        if index not in self._bucket_of:
            w, h = self._dims(index)
            ratio = math.log(w / h)
            self._bucket_of[index] = min(self.buckets, key=lambda b: abs(math.log(b[0] / b[1]) - ratio))
        return self._bucket_of[index]

    def _dims(self, index: int) -> tuple[int, int]:
        entry = self.entries[index]
        scene = entry.get("scene") or {}
        if "width" in scene and "height" in scene:
            return scene["width"], scene["height"]
        import av

        with av.open(str(self.root / entry["video"])) as c:
            s = c.streams.video[0]
            return s.codec_context.width, s.codec_context.height

    def clip(self, index: int) -> Clip:
        from openreel.video.io import read_video

        entry = self.entries[index]
        video = read_video(self.root / entry["video"])
        frames = resample_frames(video.frames, video.fps or self.cfg.fps, self.cfg.fps, self.cfg.frames)
        if frames is None:
            raise InvalidInput("data", f"{entry['video']} is shorter than {self.cfg.frames} frames at "
                                       f"{self.cfg.fps:g} fps")
        width, height = self.bucket(index)
        return Clip(channels_first(resize_crop(frames, width, height)), entry["captions"])


def read_entries(root: Path) -> list[dict]:
    """Entries with `video` and `captions` ({lang: [..]}) from metadata.jsonl or metadata.csv."""
    jsonl, csv_path = root / "metadata.jsonl", root / "metadata.csv"
    entries = []
    if jsonl.is_file():
        for n, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidInput("data.path", f"{jsonl}:{n} is not JSON: {exc}") from None
    elif csv_path.is_file():
        with csv_path.open(encoding="utf-8", newline="") as f:
            entries = [{"video": row["video"], "captions": [row["caption"]]} for row in csv.DictReader(f)]
    else:
        raise InvalidInput("data.path", f"{root} has no metadata.jsonl or metadata.csv")
    for n, e in enumerate(entries, 1):
        if "video" not in e or "captions" not in e and "caption" not in e:
            raise InvalidInput("data.path", f"entry {n} of {root} needs 'video' and 'captions'")
        caps = e.get("captions", e.get("caption"))
        e["captions"] = caps if isinstance(caps, dict) else {"any": [caps] if isinstance(caps, str) else list(caps)}
    return entries


def make_source(cfg: DataSection, multiple: int = 16):
    return WorldSource(cfg) if cfg.source == "world" else FolderSource(cfg, multiple)


def bucket_groups(source) -> list[list[int]]:
    """A source's clip indices grouped by aspect-ratio bucket (a batch never mixes buckets)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(len(source)):
        groups.setdefault(source.bucket(i), []).append(i)
    return list(groups.values())


class BatchPlan:
    """Global batch k → the clip indices it holds: bucket-pure, shuffled per epoch, resumable by k."""

    def __init__(self, source, global_batch: int, seed: int):
        self.source, self.global_batch, self.seed = source, global_batch, seed
        self.endless = isinstance(source, WorldSource) and source.size is None
        if not self.endless:
            self.groups = bucket_groups(source)
            self.per_epoch = sum(len(g) // global_batch for g in self.groups)
            if self.per_epoch == 0:
                raise InvalidInput("run.batch_size", f"the dataset has {len(source)} clips; no bucket fills one "
                                                     f"global batch of {global_batch}")
            self._epoch, self._batches = -1, []

    def batch(self, k: int) -> list[int]:
        if self.endless:
            return list(range(k * self.global_batch, (k + 1) * self.global_batch))
        epoch, j = divmod(k, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._batches = epoch, self._epoch_batches(epoch)
        return self._batches[j]

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, epoch])
        batches = []
        for group in self.groups:
            order = rng.permutation(group).tolist()
            g = self.global_batch
            batches += [order[i:i + g] for i in range(0, len(order) - g + 1, g)]
        return [batches[i] for i in rng.permutation(len(batches))]


def pick_caption(counts: dict[str, int], cfg: DataSection, seed: int, key: int) -> tuple[str, int] | None:
    """Which caption this sample reads: (language, index), or None for the empty prompt (dropout)."""
    g = sample_generator(seed, key, "dropout")
    if torch.rand((), generator=g).item() < cfg.caption_dropout:
        return None
    langs = [lang for lang in cfg.languages if counts.get(lang)] or [k for k, n in counts.items() if n]
    g = sample_generator(seed, key, "caption")
    lang = langs[int(torch.randint(len(langs), (), generator=g))]
    return lang, int(torch.randint(counts[lang], (), generator=g))


class TrainSamples(torch.utils.data.Dataset):
    """Item = (global sample position, clip index) → a dict with "key" plus either
    "frames" (3, T, H, W) and "caption", or, from a cache, latent "mean", "foreground" and "context"
    (or "caption" when the text encoder trains).

    The key seeds the sample's caption choice, noise and σ: the position, or with `fixed_noise`
    the clip index.
    """

    def __init__(self, source, cfg: DataSection, seed: int, cache=None, text_len: int = 0):
        self.source, self.cfg, self.seed, self.cache, self.text_len = source, cfg, seed, cache, text_len

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, item: tuple[int, int]) -> dict:
        position, index = item
        key = index if self.cfg.fixed_noise else position
        if self.cache is not None:
            return self._cached(index, key)
        clip = self.source.clip(index)
        if self.cfg.crop:
            clip = Clip(random_crop(clip.frames, self.cfg.crop, sample_generator(self.seed, key, "crop")),
                        clip.captions)
        choice = pick_caption({k: len(v) for k, v in clip.captions.items()}, self.cfg, self.seed, key)
        caption = "" if choice is None else clip.captions[choice[0]][choice[1]]
        return {"frames": clip.frames, "caption": caption, "key": key}

    def _cached(self, index: int, key: int) -> dict:
        from openreel.train.cache import EMPTY, pad

        tensors = self.cache.load(index)
        item = {"mean": tensors["mean"], "key": key}
        if "foreground" in tensors:
            item["foreground"] = tensors["foreground"]
        choice = pick_caption(self.cache.counts(index), self.cfg, self.seed, key)
        if self.cache.live_text:  # the text encoder is training: hand over the caption itself
            texts = self.cache.captions(index)
            if texts is None:  # a cache made before caption text was kept: the folder's metadata has it
                texts = self.source.entries[index]["captions"]
            item["caption"] = "" if choice is None else texts[choice[0]][choice[1]]
        else:
            item["context"] = pad(tensors[EMPTY if choice is None else f"text.{choice[0]}.{choice[1]}"], self.text_len)
        return item


def collate(items: list[dict]) -> dict:
    return {k: torch.stack([i[k] for i in items]) if torch.is_tensor(items[0][k]) else
            torch.tensor([i[k] for i in items]) if k == "key" else [i[k] for i in items] for k in items[0]}


class RankBatches(torch.utils.data.Sampler):
    """This process's slice of each global batch, from global batch `start` on (micro-batches)."""

    def __init__(self, plan: BatchPlan, start: int, rank: int, world: int, per_rank: int):
        self.plan, self.start, self.rank, self.world, self.per_rank = plan, start, rank, world, per_rank

    def __iter__(self):
        k = self.start
        while True:
            indices = self.plan.batch(k)
            lo = self.rank * self.per_rank
            yield [(k * self.plan.global_batch + lo + j, indices[lo + j]) for j in range(self.per_rank)]
            k += 1


def loader(source, cfg: DataSection, *, seed: int, start_batch: int, rank: int, world: int, per_rank: int,
           cache=None, text_len: int = 0):
    plan = BatchPlan(source, per_rank * world, cfg.seed)
    sampler = RankBatches(plan, start_batch, rank, world, per_rank)
    samples = TrainSamples(source, cfg, seed, cache, text_len)
    return torch.utils.data.DataLoader(samples, batch_sampler=sampler, collate_fn=collate,
                                       num_workers=cfg.workers, persistent_workers=cfg.workers > 0)
