"""Models: presets (shapes), folders (weights), and the loaded bundle the sampler uses."""

from openreel.models.bundle import VideoModel, build_preset, load_model, save_model
from openreel.models.presets import PRESETS
from openreel.models.spec import ModelDefaults, ModelSpec

__all__ = ["PRESETS", "ModelDefaults", "ModelSpec", "VideoModel", "build_preset", "load_model", "save_model"]
