"""`openreel train vae|t2v|lora` and `openreel export`."""

from __future__ import annotations

import os
from pathlib import Path

import click

COMMON = [
    click.option("-c", "--config", type=click.Path(dir_okay=False, path_type=Path), help="TOML config file"),
    click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                 help="override a config key (repeatable), e.g. --set optim.lr=1e-4"),
    click.option("--resume", default=None, metavar="auto|PATH",
                 help="continue: 'auto' = this run's newest checkpoint if any, or a checkpoint/run path"),
    click.option("--out", help="run folder (= run.out)"),
    click.option("--steps", type=int, help="total optimizer steps (= run.steps)"),
    click.option("-q", "--quiet", is_flag=True, help="no progress bar"),
]


def common(fn):
    for option in reversed(COMMON):
        fn = option(fn)
    return fn


def _run(kind: str, config, overrides, resume, out, steps, quiet, extra: list[str] = ()) -> None:
    from openreel.train.config import load_config
    from openreel.train.loop import train

    sets = list(extra) + list(overrides)
    if out:
        sets.append(f"run.out={_quote(out)}")
    if steps:
        sets.append(f"run.steps={steps}")
    cfg = load_config(config, sets)
    path = train(kind, cfg, resume=resume, show_progress=not quiet)
    if os.environ.get("RANK", "0") == "0":  # one line per run, not per process
        click.echo(f"run folder: {path} (last checkpoint: {path / 'last'})")


def _quote(value: str) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@click.group()
def train() -> None:
    """Train a VAE, a text-to-video transformer, or a LoRA adapter.

    Runs one process here; for many, launch the same command with torchrun or accelerate.

    \b
    Examples:
      openreel train vae --config configs/vae-shapes.toml
      openreel train t2v --config configs/t2v-shapes.toml --resume auto
      accelerate launch --num_processes 8 -m openreel train t2v --config configs/t2v-shapes.toml
      torchrun --nproc_per_node 2 -m openreel train t2v --config configs/t2v-tiny.toml
      openreel train lora --model /models/Wan2.1-T2V-1.3B-Diffusers --data my_clips/ --rank 32
    """


@train.command("vae")
@common
def train_vae(config, overrides, resume, out, steps, quiet) -> None:
    """Train the video VAE: reconstruction + KL; saves latent mean/std per channel.

    \b
    Examples:
      openreel train vae --config configs/vae-shapes.toml
      openreel train vae --set model.base=tiny --set run.steps=200 --out runs/vae-tiny
    """
    _run("vae", config, overrides, resume, out, steps, quiet)


@train.command("t2v")
@common
def train_t2v(config, overrides, resume, out, steps, quiet) -> None:
    """Train the text-to-video transformer with flow matching (optionally the text encoder too).

    \b
    Examples:
      openreel train t2v --config configs/t2v-shapes.toml --resume auto
      openreel train t2v --set model.base=models/vae-shapes --set data.limit=4 --steps 300 --out runs/overfit
    """
    _run("t2v", config, overrides, resume, out, steps, quiet)


@train.command("lora")
@click.option("--model", "base", required=True, help="model folder (or preset) to adapt")
@click.option("--data", "data", required=True, type=click.Path(file_okay=False), help="folder of videos + metadata")
@click.option("--rank", type=int, default=None, help="LoRA rank (= lora.rank)")
@common
def train_lora(base, data, rank, config, overrides, resume, out, steps, quiet) -> None:
    """Fine-tune a loaded model with LoRA adapters on its attention and FFN projections (peft).

    \b
    Examples:
      openreel train lora --model /models/Wan2.1-T2V-1.3B-Diffusers --data my_clips/ --rank 32
      openreel export runs/lora/last --out adapters/my-style
      openreel generate "..." --model /models/Wan2.1-T2V-1.3B-Diffusers --lora adapters/my-style --lora-scale 0.8
    """
    extra = [f"model.base={_quote(base)}", "data.source=folder", f"data.path={_quote(data)}"]
    if rank:
        extra.append(f"lora.rank={rank}")
    _run("lora", config, overrides, resume, out or "runs/lora", steps, quiet, extra)


@train.command("cache")
@click.option("-c", "--config", type=click.Path(dir_okay=False, path_type=Path), help="TOML config file")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="override a config key")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="cache folder to write")
@click.option("--batch-size", type=click.IntRange(1, 1024), default=8, show_default=True,
              help="clips per VAE call (clips are decoded or rendered by data.workers processes)")
def train_cache(config, overrides, out: Path, batch_size: int) -> None:
    """Encode a folder dataset, or N shapes-world clips, once: VAE latents, and caption embeddings
    unless the text encoder trains.

    Then train with `--set data.cache=<folder>`; the cache is checked against the model and data
    settings before use.

    \b
    Examples:
      openreel train cache --config configs/lora-wan.toml --out cache/my_clips
      openreel train cache --config configs/default/2-t2v.toml --set data.source=folder \\
          --set data.path=data/shapes-128 --out data/cache-128 --batch-size 64
      openreel train cache --config configs/default/2-t2v.toml --set data.limit=20000 \\
          --out data/world-cache --batch-size 64        # world clips 0..19999 of stream data.seed, rendered
      openreel train lora --model /models/Wan2.1-T2V-1.3B-Diffusers --data my_clips/ --set data.cache=cache/my_clips
    """
    import torch

    from openreel.train.cache import build_cache
    from openreel.train.config import load_config
    from openreel.train.loop import load_base

    cfg = load_config(config, list(overrides))
    model = load_base(cfg, torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    build_cache(model, cfg, out, batch_size=batch_size,
                progress=lambda i, n: click.echo(f"\rencoded {i}/{n}", nl=i == n, err=True))
    click.echo(f"wrote {out}")


@click.command("export")
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="folder to write")
@click.option("--no-ema", is_flag=True, help="export the raw weights instead of their EMA")
@click.option("--name", help="model id written into openreel.json [default: the folder name]")
@click.option("-f", "--force", is_flag=True, help="replace --out if it exists")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16"]), default="float32", show_default=True,
              help="storage type of the exported weights (loading casts to the run-time type)")
def export_command(run: Path, out: Path, no_ema: bool, name: str | None, force: bool, dtype: str) -> None:
    """Export a run (or one checkpoint) as a model folder, or a LoRA run as an adapter.

    \b
    Examples:
      openreel export runs/t2v-shapes/last --out models/my-model
      openreel export runs/vae-shapes --out models/vae-shapes --no-ema
      openreel export runs/lora/last --out adapters/my-style
      openreel export runs/default-t2v --out src/openreel/weights/default --dtype float16 --name openreel-shapes-v1
    """
    import torch

    from openreel.train.export import export

    written = export(run, out, ema=not no_ema, name=name, force=force, dtype=getattr(torch, dtype))
    click.echo(f"wrote {written}")
