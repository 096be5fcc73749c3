"""A loaded Wan-family model: its components, its spec, and where it came from.

Model folders use the diffusers layout (`model_index.json`, `transformer/`, `vae/`,
`text_encoder/`, `tokenizer/`, `scheduler/`), so the official Wan2.1/Wan2.2 releases, folders
saved by stock `diffusers.WanPipeline` and OpenReel's own models load the same way. Weights load
from safetensors only, offline, and no repository code is ever executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from transformers import AutoTokenizer, ByT5Tokenizer, PreTrainedModel, T5EncoderModel, UMT5Config, UMT5EncoderModel

from openreel.errors import InvalidInput, ModelNotFound
from openreel.models.presets import get_preset
from openreel.models.spec import ModelDefaults, ModelSpec, infer_defaults, read_spec, write_spec

if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS"):  # one switch for all HF libraries' progress bars
    from diffusers.utils import logging as _diffusers_logging

    _diffusers_logging.disable_progress_bar()

TEXT_ENCODERS = {"UMT5EncoderModel": UMT5EncoderModel, "T5EncoderModel": T5EncoderModel}
REQUIRED = ("transformer", "vae", "text_encoder", "tokenizer")


@dataclass
class VideoModel:
    transformer: WanTransformer3DModel
    vae: AutoencoderKLWan
    text_encoder: PreTrainedModel
    tokenizer: object  # a transformers tokenizer
    spec: ModelSpec
    source: str  # folder path or "preset:<name>"
    expand_timesteps: bool = False
    # Wan2.2-A14B: a second expert for low-noise steps, below boundary_ratio * 1000
    transformer_2: WanTransformer3DModel | None = None
    boundary_ratio: float | None = None

    @property
    def defaults(self) -> ModelDefaults:
        return self.spec.defaults

    @property
    def spatial_multiple(self) -> int:
        """Width and height must be multiples of this: VAE stride times transformer patch."""
        return self.vae.config.scale_factor_spatial * self.transformer.config.patch_size[1]

    @property
    def temporal_stride(self) -> int:
        return self.vae.config.scale_factor_temporal

    @property
    def device(self) -> torch.device:
        return self.transformer.device

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> VideoModel:
        """Move to `device`; `dtype` applies to the transformer(s) and text encoder, the VAE stays fp32.

        Modules a model lists in `_keep_in_fp32_modules` (norms, time embedding) stay fp32, as
        `from_pretrained(dtype=...)` would leave them.
        """
        for module in (self.transformer, self.transformer_2, self.text_encoder):
            if module is None:
                continue
            module.to(device=device)
            if dtype is not None and module.dtype != dtype:
                _cast_keeping_fp32(module, dtype)
        self.vae.to(device=device)
        return self

    def modules(self) -> dict[str, torch.nn.Module]:
        named = {"transformer": self.transformer, "vae": self.vae, "text_encoder": self.text_encoder}
        if self.transformer_2 is not None:
            named["transformer_2"] = self.transformer_2
        return named

    def weights_hash(self) -> str:
        """sha256 of the weights: of the safetensors files for a folder, of the tensors for a preset."""
        if self.source.startswith("preset:"):
            return tensors_hash(self.modules())
        return folder_weights_hash(Path(self.source))


def build_preset(name: str, seed: int = 0) -> VideoModel:
    """Random-initialised model of a named preset (seeded, so the same name+seed gives the same weights)."""
    preset = get_preset(name)
    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(**preset.transformer)
    vae = AutoencoderKLWan(**preset.vae)
    text_encoder = UMT5EncoderModel(UMT5Config(**preset.text_encoder))
    if preset.transformer["text_dim"] != text_encoder.config.d_model:
        raise ValueError(f"preset {name}: transformer text_dim must equal the text encoder width")
    for module in (transformer, vae, text_encoder):
        module.eval()
    spec = ModelSpec(name=f"openreel-{name}-random", preset=name, description=preset.description,
                     defaults=preset.defaults)
    return VideoModel(transformer, vae, text_encoder, ByT5Tokenizer(), spec, f"preset:{name}",
                      expand_timesteps=preset.expand_timesteps)


def load_model(name_or_path: str | os.PathLike, *, device: str | torch.device = "cpu",
               dtype: torch.dtype | None = None) -> VideoModel:
    """Load a model folder (diffusers layout) or build a preset by name."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        model = load_folder(path, dtype=dtype)
    elif os.sep in str(name_or_path) or path.suffix:
        raise ModelNotFound("model", f"no model folder at {path}")
    else:
        model = build_preset(str(name_or_path))
    return model.to(device, dtype)


def load_folder(folder: Path, dtype: torch.dtype | None = None) -> VideoModel:
    index = _read_json(folder / "model_index.json", "model")
    for name in REQUIRED:
        if not (folder / name).is_dir() or not index.get(name) or index[name][0] is None:
            raise InvalidInput("model", f"{folder} has no {name}/ component (model_index.json lists "
                                        f"{sorted(k for k in index if not k.startswith('_'))})")
    _expect_class(index, "transformer", {"WanTransformer3DModel"})
    _expect_class(index, "vae", {"AutoencoderKLWan"})
    _expect_class(index, "text_encoder", set(TEXT_ENCODERS))
    load = dict(use_safetensors=True, local_files_only=True)
    transformer = WanTransformer3DModel.from_pretrained(folder / "transformer", dtype=dtype, **load)
    transformer_2 = None
    if (index.get("transformer_2") or [None])[0] is not None:
        _expect_class(index, "transformer_2", {"WanTransformer3DModel"})
        transformer_2 = WanTransformer3DModel.from_pretrained(folder / "transformer_2", dtype=dtype, **load)
    vae = AutoencoderKLWan.from_pretrained(folder / "vae", dtype=torch.float32, **load)
    encoder_cls = TEXT_ENCODERS[index["text_encoder"][1]]
    text_encoder = encoder_cls.from_pretrained(folder / "text_encoder", dtype=dtype, **load)
    tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True)
    if transformer.config.text_dim != text_encoder.config.d_model:
        raise InvalidInput("model", f"{folder}: transformer text_dim {transformer.config.text_dim} != "
                                    f"text encoder width {text_encoder.config.d_model}")
    spec = read_spec(folder) or ModelSpec(
        name=folder.name,
        defaults=infer_defaults(index, _read_json(folder / "scheduler" / "scheduler_config.json", None) or {},
                                dict(vae.config)),
    )
    for module in (transformer, transformer_2, vae, text_encoder):
        if module is not None:
            module.eval()
    return VideoModel(transformer, vae, text_encoder, tokenizer, spec, str(folder.resolve()),
                      expand_timesteps=bool(index.get("expand_timesteps", False)),
                      transformer_2=transformer_2, boundary_ratio=index.get("boundary_ratio"))


def save_model(model: VideoModel, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write `model` as a diffusers-layout folder that stock `WanPipeline.from_pretrained` loads.

    Written to a temporary sibling folder first, then renamed, so a crash leaves no half model.
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise InvalidInput("out", f"{folder} exists and is not empty (pass overwrite/--force to replace it)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        # UniPC with flow sigmas is how Wan's own releases sample; stock diffusers users get that.
        scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                            flow_shift=model.defaults.shift)
        pipe = WanPipeline(tokenizer=model.tokenizer, text_encoder=model.text_encoder, vae=model.vae,
                           scheduler=scheduler, transformer=model.transformer, transformer_2=model.transformer_2,
                           boundary_ratio=model.boundary_ratio, expand_timesteps=model.expand_timesteps)
        pipe.save_pretrained(tmp, safe_serialization=True)
        _drop_load_paths(tmp)
        write_spec(model.spec, tmp)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _drop_load_paths(folder: Path) -> None:
    """diffusers records where a component was loaded from (`_name_or_path`): a path on the machine
    that exported it, meaningless elsewhere and a leak in a published folder."""
    for config in folder.glob("*/config.json"):
        data = json.loads(config.read_text(encoding="utf-8"))
        if data.pop("_name_or_path", None) is not None:
            config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def folder_weights_hash(folder: Path) -> str:
    """sha256 over every safetensors file (relative path and bytes), cached by size and mtime."""
    files = sorted(p for p in folder.rglob("*.safetensors") if p.is_file())
    key = json.dumps([[str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns] for p in files])
    cache_file = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "openreel" / "weights-hash.json"
    cache = _read_json(cache_file, None) or {}
    entry = cache.get(str(folder.resolve()))
    if entry and entry.get("key") == key:
        return entry["sha256"]
    digest = hashlib.sha256()
    for p in files:
        digest.update(str(p.relative_to(folder)).encode())
        with p.open("rb") as f:
            while chunk := f.read(1 << 24):
                digest.update(chunk)
    value = digest.hexdigest()
    cache[str(folder.resolve())] = {"key": key, "sha256": value}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache))
    except OSError:
        pass  # a read-only home only costs a re-hash next time
    return value


def tensors_hash(modules: dict[str, torch.nn.Module]) -> str:
    digest = hashlib.sha256()
    for prefix, module in sorted(modules.items()):
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(f"{prefix}.{name}".encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _expect_class(index: dict, component: str, allowed: set[str]) -> None:
    cls = index[component][1]
    if cls not in allowed:
        raise InvalidInput("model", f"{component} is {cls}; OpenReel loads {' or '.join(sorted(allowed))}")


def _read_json(path: Path, field: str | None) -> dict | None:
    if not path.is_file():
        if field is None:
            return None
        raise ModelNotFound(field, f"{path.parent} is not a model folder (no {path.name})")
    return json.loads(path.read_text(encoding="utf-8"))


def _cast_keeping_fp32(module: torch.nn.Module, dtype: torch.dtype) -> None:
    keep = getattr(module, "_keep_in_fp32_modules", None) or []
    for name, param in module.named_parameters():
        if not any(part in keep for part in name.split(".")):
            param.data = param.data.to(dtype)
    for name, buf in module.named_buffers():
        if buf.is_floating_point() and not any(part in keep for part in name.split(".")):
            buf.data = buf.data.to(dtype)
