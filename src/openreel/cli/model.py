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
@click.option("--vae-from", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="take the VAE from this VAE or model folder instead of the preset's")
@click.option("--vae-set", "vae_sets", multiple=True, metavar="KEY=VALUE",
              help="change an AutoencoderKLWan argument of that VAE; parts whose weights no longer fit "
                   "start random (repeatable)")
@click.option("-f", "--force", is_flag=True, help="replace the folder if it exists")
def create(preset: str, out: Path, seed: int, vae_from: Path | None, vae_sets: tuple[str, ...], force: bool) -> None:
    """Write a random-initialised preset as a model folder (loads in OpenReel and stock diffusers).

    With --vae-from, the VAE is a trained one, optionally rebuilt by --vae-set: a wider
    decoder keeps the trained encoder (and its latent space) and starts the decoder afresh;
    more residual blocks (num_res_blocks) keep every trained weight and add blocks that pass
    their input through, so the VAE's output is unchanged until they are trained.

    \b
    Examples:
      openreel model create --preset tiny --out models/tiny-random
      openreel model create --preset small --out models/small-random --seed 3
      openreel model create --preset shapes --out models/wide-decoder \\
          --vae-from checkpoints/default-vae --vae-set decoder_base_dim=32
      openreel model create --preset shapes --out models/deeper-vae \\
          --vae-from checkpoints/default-vae --vae-set num_res_blocks=3
    """
    from openreel.models import build_preset, save_model

    model = build_preset(preset, seed=seed)
    if vae_from is None and vae_sets:
        raise click.UsageError("--vae-set needs --vae-from (the VAE whose architecture it changes)")
    if vae_from is not None:
        model.vae = rebuilt_vae(vae_from, vae_sets, seed)
        if model.vae.config.z_dim != model.transformer.config.in_channels:
            raise click.BadParameter(f"its {model.vae.config.z_dim} latent channels do not match preset "
                                     f"{preset}'s transformer ({model.transformer.config.in_channels})",
                                     param_hint="--vae-from")
    save_model(model, out, overwrite=force)
    click.echo(f"wrote {out}")


def rebuilt_vae(vae_from: Path, vae_sets: tuple[str, ...], seed: int):
    from openreel.models.vae_rebuild import PARTS, load_vae, rebuild_vae
    from openreel.train.config import parse_value

    changes = {}
    for item in vae_sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--vae-set")
        changes[key.strip()] = parse_value(value.strip())
    vae, fate = rebuild_vae(load_vae(vae_from), changes, seed=seed)
    said = {how: [part for part in PARTS if fate[part] == how] for how in ("kept", "grown", "random")}
    click.echo(f"VAE from {vae_from}: kept {', '.join(said['kept']) or 'nothing'}; "
               + (f"grown (same output, added blocks to train): {', '.join(said['grown'])}; " if said["grown"] else "")
               + f"random init: {', '.join(said['random']) or 'nothing'}")
    return vae


@model.command("deepen")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="folder to write")
@click.option("--factor", type=int, help="transformer blocks per trained block  [default: 2, or 1 with --vae-blocks]")
@click.option("--vae-blocks", type=click.IntRange(1, 8),
              help="residual blocks per VAE level (AutoencoderKLWan's num_res_blocks); must exceed the source's")
@click.option("-f", "--force", is_flag=True, help="replace the folder if it exists")
def deepen(source: Path, out: Path, factor: int | None, vae_blocks: int | None, force: bool) -> None:
    """Copy a model folder with a deeper transformer and/or VAE that computes exactly what the source does.

    Every trained transformer block is followed by copies of itself whose residual outputs are zero
    (Net2Net-style growth), so training continues from the trained model with more capacity.
    --vae-blocks adds residual blocks to every level of the VAE the same way (zero last
    convolution): train the decoder with `openreel train vae --set vae.train_encoder=false` and the
    latent space, and so the transformer, stay valid.

    \b
    Examples:
      openreel model deepen models/default-t2v --out models/deep8
      openreel train t2v --config configs/default/2-t2v.toml --set model.base='"models/deep8"'
      openreel model deepen models/default-t2v --out models/vae3 --vae-blocks 3
    """
    from openreel.models import load_model, save_model
    from openreel.models.transformer_grow import deepen_transformer
    from openreel.models.vae_rebuild import deepen_vae

    factor = factor if factor is not None else (1 if vae_blocks else 2)
    model = load_model(source)
    said = []
    if factor != 1 or not vae_blocks:
        layers = model.transformer.config.num_layers
        model.transformer = deepen_transformer(model.transformer, factor)
        said.append(f"transformer {layers} → {model.transformer.config.num_layers} layers")
    if vae_blocks:
        blocks = model.vae.config.num_res_blocks
        model.vae = deepen_vae(model.vae, vae_blocks)
        said.append(f"VAE {blocks} → {vae_blocks} residual blocks per level")
    # a grown model is a new model once trained: it must not go on calling itself its source
    model.spec = model.spec.model_copy(update={"name": out.name})
    save_model(model, out, overwrite=force)
    click.echo(f"wrote {out}: {', '.join(said)}, same output")


@model.command("refine")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="folder to write")
@click.option("-f", "--force", is_flag=True, help="replace the folder if it exists")
def refine(source: Path, out: Path, force: bool) -> None:
    """Copy a model folder with a latent grid twice as fine: a 2x2-patchify VAE (16x) becomes 8x.

    The VAE drops its pixel patchify and computes exactly what the source VAE computes on frames
    upsampled 2x, pooled back, so it starts where the source stands at twice the size. The
    transformer reads 2x2-wider patches, so it sees as many tokens as before; it starts from the
    source's weights but must be trained on the new latents (`openreel train t2v`), as the VAE
    may be (`openreel train vae`, which also re-measures the latent statistics).

    \b
    Examples:
      openreel model refine models/default-t2v --out models/fine8
      openreel train vae --config configs/default/1-vae.toml --set model.base='"models/fine8"'
    """
    from openreel.models import load_model, save_model
    from openreel.models.vae_rebuild import refine_model

    model = load_model(source)
    before = (model.vae.config.scale_factor_spatial, tuple(model.transformer.config.patch_size))
    model = refine_model(model)
    model.spec = model.spec.model_copy(update={"name": out.name})
    save_model(model, out, overwrite=force)
    after = (model.vae.config.scale_factor_spatial, tuple(model.transformer.config.patch_size))
    click.echo(f"wrote {out}: VAE {before[0]}x → {after[0]}x, transformer patches {before[1]} → {after[1]}, "
               f"{model.spatial_multiple}-px size multiple as before")


@model.command("sharpen")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="folder to write")
@click.option("--factor", required=True, type=float, help="multiply self-attention logits by this (0.25 to 4)")
@click.option("-f", "--force", is_flag=True, help="replace the folder if it exists")
def sharpen(source: Path, out: Path, factor: float, force: bool) -> None:
    """Copy a model folder whose self-attention logits are FACTOR times larger, at every clip size.

    A factor above 1 makes each query's softmax sharper (below 1, softer). It is folded into each
    block's query-norm gain, so the copy is an ordinary folder: training continues with it, and
    stock diffusers pipelines compute the same. Measure before keeping one (`openreel eval --suite
    seen`, reading objects drawn as one blob): on OpenReel's own model sharper attention drew more
    blobs, not better objects, and it ships unsharpened (MODEL_CARD.md, "Longer clips").

    \b
    Examples:
      openreel model sharpen models/default-t2v --factor 1.3 --out models/sharp13
      openreel eval --model models/sharp13 --suite seen --count 100 --report runs/sharp13/eval.md
    """
    from openreel.models import load_model, save_model
    from openreel.models.attention import fold_self_attention_scale

    model = load_model(source)
    for net in (model.transformer, model.transformer_2):
        if net is not None:
            fold_self_attention_scale(net, factor)
    model.spec = model.spec.model_copy(update={"name": out.name})
    save_model(model, out, overwrite=force)
    click.echo(f"wrote {out}: self-attention logits x{factor:g} in every block")


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
