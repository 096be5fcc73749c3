"""Precomputed latents and text embeddings, for folder datasets and frozen encoders.

With a big VAE and text encoder (Wan's are 127 M and 5.7 B parameters) most of a fine-tuning step
is spent re-encoding the same clips and captions. `openreel train cache` encodes each clip once
(the VAE posterior's mean at the clip's bucket size) and each caption once (its token rows,
without the zero padding); training then reads these files instead of videos.

    <cache>/cache.json             what it was made from (model hashes, data settings): checked on use
    <cache>/clips/000123.safetensors   mean (C, T', H', W'); text.<lang>.<j> (tokens, D)
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
from openreel.train.data import FolderSource, to_model_range

EMPTY = "text.empty"  # the "" embedding, used for caption dropout


def cache_key(model, cfg: TrainConfig) -> dict:
    d = cfg.data
    return {"vae_sha256": tensors_hash({"vae": model.vae}),
            "text_encoder_sha256": tensors_hash({"text_encoder": model.text_encoder}),
            "text_len": model.defaults.text_len, "path": str(Path(d.path).resolve()) if d.path else None,
            "width": d.width, "height": d.height, "frames": d.frames, "fps": d.fps, "limit": d.limit}


@torch.no_grad()
def build_cache(model, cfg: TrainConfig, out: Path, progress=None) -> Path:
    if cfg.data.source != "folder":
        raise InvalidInput("data.source", "only folder datasets are cached (the world renders endlessly)")
    source = FolderSource(cfg.data, model.spatial_multiple)
    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    text_len = model.defaults.text_len
    empty = encode_prompts(model.tokenizer, model.text_encoder, [""], text_len)[0]
    for i in range(len(source)):
        clip = source.clip(i)
        mean = model.vae.encode(to_model_range(clip.frames[None], model.device)).latent_dist.mean
        tensors = {"mean": mean[0].float().cpu().contiguous(), EMPTY: trim(empty)}
        for lang, caps in clip.captions.items():
            embs = encode_prompts(model.tokenizer, model.text_encoder, caps, text_len)
            for j, emb in enumerate(embs):
                tensors[f"text.{lang}.{j}"] = trim(emb)
        save_file(tensors, clips / f"{i:06d}.safetensors")
        if progress:
            progress(i + 1, len(source))
    key = cache_key(model, cfg)
    (out / "cache.json").write_text(json.dumps({**key, "count": len(source), "captions": [
        {lang: len(c) for lang, c in source.entries[i]["captions"].items()} for i in range(len(source))]}, indent=2))
    return out


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
        stale = [k for k, v in expected.items() if self.info.get(k) != v]
        if stale:
            raise InvalidInput("data.cache", f"{self.folder} was made for other {', '.join(stale)}; rebuild it")

    def __len__(self) -> int:
        return self.info["count"]

    def counts(self, index: int) -> dict[str, int]:
        return self.info["captions"][index]

    def load(self, index: int) -> dict[str, torch.Tensor]:
        return load_file(self.folder / "clips" / f"{index:06d}.safetensors")
