"""`openreel model`: create preset model folders and inspect model folders."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def model() -> None:
    """Create and inspect model folders (diffusers layout).

    \b
    Examples:
      openreel model presets
      openreel model create --preset tiny --out models/tiny-random
      openreel model info models/tiny-random
    """


@model.command("presets")
def presets() -> None:
    """List the named architectures.

    \b
    Examples:
      openreel model presets
    """
    from openreel.models.presets import PRESETS

    for p in PRESETS.values():
        click.echo(f"{p.name:10s} {p.description}")


@model.command("create")
@click.option("--preset", required=True, help="preset name (see `openreel model presets`)")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="folder to write")
@click.option("--seed", default=0, show_default=True, help="seed of the random initialisation")
@click.option("-f", "--force", is_flag=True, help="replace the folder if it exists")
def create(preset: str, out: Path, seed: int, force: bool) -> None:
    """Write a random-initialised preset as a model folder (loads in OpenReel and stock diffusers).

    \b
    Examples:
      openreel model create --preset tiny --out models/tiny-random
      openreel model create --preset small --out models/small-random --seed 3
    """
    from openreel.models import build_preset, save_model

    save_model(build_preset(preset, seed=seed), out, overwrite=force)
    click.echo(f"wrote {out}")


@model.command("info")
@click.argument("name_or_path")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def info(name_or_path: str, as_json: bool) -> None:
    """Show a model's architecture, parameter counts, grid and defaults.

    \b
    Examples:
      openreel model info tiny
      openreel model info /models/Wan2.1-T2V-1.3B-Diffusers --json
    """
    from openreel.models import load_model

    m = load_model(name_or_path)
    facts = {
        "name": m.spec.name,
        "source": m.source,
        "parameters": {k: sum(p.numel() for p in mod.parameters()) for k, mod in m.modules().items()},
        "size_multiple": m.spatial_multiple,
        "frames": f"{m.temporal_stride}n+1",
        "latent_channels": m.vae.config.z_dim,
        "text_encoder": type(m.text_encoder).__name__,
        "tokenizer": type(m.tokenizer).__name__,
        "defaults": m.defaults.model_dump(),
    }
    if as_json:
        click.echo(json.dumps(facts, indent=2, ensure_ascii=False))
        return
    for key, value in facts.items():
        click.echo(f"{key:16s} {value}")
