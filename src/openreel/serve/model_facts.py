"""What the API knows about the served model without loading its weights.

Requests are validated in the API process, before they are queued, so a mistake is an immediate
4xx rather than a failed job. That needs the model's grid (sizes a multiple of VAE stride x patch,
4n+1 frames), its defaults and its tokenizer, all of which come from config files (a model
folder's JSON, or a preset's definition) and a tokenizer; no weights. Validation then runs the very
same `Generator.resolve` a worker runs, with this stand-in as the generator's model, so the two
cannot disagree (a check added to `Generator.resolve` later applies here too, as long as it reads
only the model's spec, defaults, grid and tokenizer, which is all a stand-in can offer).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

# AutoencoderKLWan's and WanTransformer3DModel's defaults, for configs that leave them out
DEFAULT_SPATIAL, DEFAULT_TEMPORAL, DEFAULT_PATCH = 8, 4, (1, 2, 2)


@dataclass
class ServedModel:
    id: str  # what clients send as `model`
    spec: object  # openreel.models.spec.ModelSpec, as the loaded model will have it
    source: str  # "preset:<name>" or a folder
    spatial_multiple: int
    temporal_stride: int
    tokenizer: object
    supports_image: bool = False  # image-to-video through `input_reference` (no OpenReel model yet)
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def spec_name(self) -> str:
        return self.spec.name

    @property
    def defaults(self):
        return self.spec.defaults

    @property
    def aliases(self) -> set[str]:
        return {self.id, self.spec_name}

    def resolve(self, request, limits):
        """`Generator.resolve` with this stand-in as the model: `Settings`, or `InvalidInput` naming the field."""
        from openreel.generator import Generator

        return Generator(self, limits).resolve(request)

    def sizes(self) -> dict[str, str]:
        """Aspect ratio -> WxH on the grid at the model's default shorter side (the web page offers these)."""
        from openreel.request import ASPECTS, aspect_size

        short = min(self.defaults.width, self.defaults.height)
        return {a: "{}x{}".format(*aspect_size(a, short, self.spatial_multiple)) for a in ASPECTS}


def describe_model(name_or_path: str, served_name: str | None = None) -> ServedModel:
    """Facts of a model folder or preset (`default` as `openreel generate` resolves it), weights untouched."""
    from openreel.generator import resolve_model_name

    name = resolve_model_name(name_or_path)
    path = Path(name).expanduser()
    facts = _folder_facts(path) if path.is_dir() else _preset_facts(name)
    return ServedModel(id=served_name or facts["spec"].name, **facts)


def _preset_facts(name: str) -> dict:
    from transformers import ByT5Tokenizer

    from openreel.models.presets import get_preset
    from openreel.models.spec import ModelSpec

    preset = get_preset(name)  # the same spec `openreel.models.bundle.build_preset` gives the model
    spec = ModelSpec(name=f"openreel-{name}-random", preset=name, description=preset.description,
                     defaults=preset.defaults)
    return dict(spec=spec, source=f"preset:{name}",
                spatial_multiple=preset.vae["scale_factor_spatial"] * preset.transformer["patch_size"][1],
                temporal_stride=preset.vae["scale_factor_temporal"], tokenizer=ByT5Tokenizer())


def _folder_facts(folder: Path) -> dict:
    from transformers import AutoTokenizer

    from openreel.errors import ModelNotFound
    from openreel.models.spec import ModelSpec, infer_defaults, read_spec

    def config(*parts: str) -> dict:
        path = folder.joinpath(*parts)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    index = config("model_index.json")
    if not index:
        raise ModelNotFound("model", f"{folder} is not a model folder (no model_index.json)")
    vae, transformer = config("vae", "config.json"), config("transformer", "config.json")
    spec = read_spec(folder) or ModelSpec(
        name=folder.name, defaults=infer_defaults(index, config("scheduler", "scheduler_config.json"), vae))
    patch = transformer.get("patch_size") or DEFAULT_PATCH
    return dict(spec=spec, source=str(folder.resolve()),
                spatial_multiple=vae.get("scale_factor_spatial", DEFAULT_SPATIAL) * patch[1],
                temporal_stride=vae.get("scale_factor_temporal", DEFAULT_TEMPORAL),
                tokenizer=AutoTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True))
