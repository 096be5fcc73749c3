"""Precomputed latents and text embeddings, for folder datasets, world clips and frozen encoders.

With a big VAE and text encoder (Wan's are 127 M and 5.7 B parameters) most of a fine-tuning step
is spent re-encoding the same clips and captions. `openreel train cache` encodes each clip once
(the VAE posterior's mean at the clip's bucket size) and each caption once (its token rows,
without the zero padding); training then reads these files instead of videos. From the shapes
world (`data.source = "world"`) it renders the first `data.limit` clips of stream `data.seed`
straight into the cache: no video files, so no H.264 round trip.

    <cache>/cache.json             what it was made from (model hashes, data settings): checked on use;
                                   each clip's captions too
    <cache>/clips/000123.safetensors   mean (C, T', H', W'); foreground (1, T', H', W') uint8, the
                                       latent cells holding an object (for `flow.foreground_weight`);
                                       text.<lang>.<j> (tokens, D) unless the run trains its text
                                       encoder (then captions are encoded live)
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from openreel.errors import InvalidInput
from openreel.models.bundle import tensors_hash
from openreel.text.encode import encode_prompts
from openreel.train.config import TrainConfig
from openreel.train.data import bucket_groups, make_source, to_model_range
from openreel.train.objective import latent_foreground
from openreel.world import vocab

EMPTY = "text.empty"  # the "" embedding, used for caption dropout


def cache_key(model, cfg: TrainConfig) -> dict:
    d = cfg.data
    key = {"vae_sha256": tensors_hash({"vae": model.vae}),
           "text_encoder_sha256": tensors_hash({"text_encoder": model.text_encoder}),
           "text_len": model.defaults.text_len, "path": str(Path(d.path).resolve()) if d.path else None,
           "width": d.width, "height": d.height, "frames": d.frames, "fps": d.fps, "limit": d.limit,
           "source": d.source}
    if d.source == "world":  # the stream's seed and the world's spec are its content
        key.update(seed=d.seed, world_version=vocab.SPEC_VERSION)
    return key


class _Frames(torch.utils.data.Dataset):
    """Clip index → (index, uint8 frames, captions): decoding or rendering runs in the loader's workers."""

    def __init__(self, source):
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, dict]:
        clip = self.source.clip(index)
        return index, clip.frames, clip.captions


def bucket_batches(source, batch_size: int) -> list[list[int]]:
    """Clip indices in batches that never mix aspect-ratio buckets (one VAE call per batch)."""
    return [g[k:k + batch_size] for g in bucket_groups(source) for k in range(0, len(g), batch_size)]


def _stack(items: list[tuple[int, torch.Tensor, dict]]) -> tuple[list[int], torch.Tensor, list[dict]]:
    return [i for i, _, _ in items], torch.stack([f for _, f, _ in items]), [c for _, _, c in items]


@torch.no_grad()
def build_cache(model, cfg: TrainConfig, out: Path, progress=None, batch_size: int = 8) -> Path:
    """Encode every clip of a folder dataset, or the first `data.limit` world clips, `batch_size`
    clips per VAE call, decoding or rendering in `data.workers` processes. Caption embeddings are
    stored too unless the text encoder trains (`model.train_text_encoder`: training encodes captions
    live, from the caption text cache.json keeps)."""
    if cfg.data.source == "world" and cfg.data.limit is None:
        raise InvalidInput("data.limit", "the world is endless: set data.limit, the number of clips to cache")
    if batch_size < 1:
        raise InvalidInput("batch_size", f"must be at least 1, got {batch_size}")
    source = make_source(cfg.data, model.spatial_multiple)
    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    with_text = not cfg.model.train_text_encoder
    text_len = model.defaults.text_len
    empty = encode_prompts(model.tokenizer, model.text_encoder, [""], text_len)[0] if with_text else None
    loader = torch.utils.data.DataLoader(_Frames(source), batch_sampler=bucket_batches(source, batch_size),
                                         collate_fn=_stack, num_workers=cfg.data.workers)
    done, texts = 0, [None] * len(source)
    for indices, frames, batch_captions in loader:
        pixels = to_model_range(frames, model.device)
        means = model.vae.encode(pixels).latent_dist.mean.float().cpu()  # (B, C, T', H', W')
        masks = latent_foreground(pixels, model.vae.config.scale_factor_spatial, model.temporal_stride)
        for index, mean, mask, caps in zip(indices, means, masks.to(torch.uint8).cpu(), batch_captions):
            tensors = {"mean": mean.contiguous(), "foreground": mask.contiguous()}
            if with_text:
                tensors.update(caption_tensors(model, caps, text_len, empty))
            save_file(tensors, clips / f"{index:06d}.safetensors")
            texts[index] = caps
        done += len(indices)
        if progress:
            progress(done, len(source))
    key = cache_key(model, cfg)
    counts = [{lang: len(c) for lang, c in caps.items()} for caps in texts]
    info = {**key, "count": len(source), "text": with_text, "foreground": True, "captions": counts,
            "caption_text": texts}
    (out / "cache.json").write_text(json.dumps(info, indent=2))
    return out


def caption_tensors(model, captions: dict[str, list[str]], text_len: int, empty: torch.Tensor) -> dict:
    tensors = {EMPTY: trim(empty)}
    for lang, caps in captions.items():
        for j, emb in enumerate(encode_prompts(model.tokenizer, model.text_encoder, caps, text_len)):
            tensors[f"text.{lang}.{j}"] = trim(emb)
    return tensors


def trim(embedding: torch.Tensor) -> torch.Tensor:
    """Drop the zero rows after the last token: (text_len, D) → (tokens, D)."""
    nonzero = embedding.abs().sum(-1) > 0
    n = int(nonzero.nonzero().max()) + 1 if nonzero.any() else 0
    return embedding[:n].float().cpu().contiguous()


def pad(embedding: torch.Tensor, text_len: int) -> torch.Tensor:
    return torch.cat([embedding, embedding.new_zeros(text_len - len(embedding), embedding.shape[-1])])


class CachedClips:
    """Reads a cache made by `build_cache`, after checking it matches the model and data settings."""

    def __init__(self, folder: str | Path, model, cfg: TrainConfig):
        self.folder = Path(folder)
        info_file = self.folder / "cache.json"
        if not info_file.is_file():
            raise InvalidInput("data.cache", f"{self.folder} is not a cache (run `openreel train cache` first)")
        self.info = json.loads(info_file.read_text())
        # A text encoder being trained is run live on each caption: only the latents come from here.
        self.live_text = cfg.model.train_text_encoder
        expected = cache_key(model, cfg)
        if self.live_text:
            expected = {k: v for k, v in expected.items() if k not in ("text_encoder_sha256", "text_len")}
        made = {"source": "folder", **self.info}  # a cache without "source" holds a folder dataset
        stale = [f"{k} ({made.get(k)!r}; this run: {v!r})" for k, v in expected.items() if made.get(k) != v]
        if stale:
            raise InvalidInput("data.cache", f"{self.folder} was made for other {', '.join(stale)}; rebuild it")
        if not self.live_text and not self.info.get("text", True):
            raise InvalidInput("data.cache", f"{self.folder} holds latents only (made for a run that trains the "
                                             "text encoder); rebuild it for a frozen one")
        if cfg.flow.foreground_weight > 0 and not self.info.get("foreground", False):
            raise InvalidInput("data.cache", f"{self.folder} has no foreground masks (made by an older "
                                             "OpenReel) and flow.foreground_weight needs them; rebuild it")

    def __len__(self) -> int:
        return self.info["count"]

    def counts(self, index: int) -> dict[str, int]:
        return self.info["captions"][index]

    def captions(self, index: int) -> dict[str, list[str]] | None:
        """Clip `index`'s captions ({lang: [...]}); None from a cache made before they were kept."""
        texts = self.info.get("caption_text")
        return None if texts is None else texts[index]

    def load(self, index: int) -> dict[str, torch.Tensor]:
        return load_file(self.folder / "clips" / f"{index:06d}.safetensors")
