"""`openreel generate`: a prompt in, an MP4 (and its generation record) out."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from openreel.errors import InvalidInput

SOLVER_CHOICES = ["unipc", "dpmpp_2m", "euler"]  # = openreel.sampling.solvers.SOLVERS (kept here: no torch import)
DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16"}


def default_output(prompt: str, seed: int | None) -> Path:
    slug = re.sub(r"[^\w]+", "-", prompt.lower(), flags=re.UNICODE).strip("-")[:48].strip("-") or "video"
    return Path(f"{slug}{'' if seed is None else f'-s{seed}'}.mp4")


@click.command()
@click.argument("prompt")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="MP4 to write [default: a name made from the prompt]")
@click.option("-m", "--model", default="default", show_default=True,
              help="model folder (diffusers layout) or preset name (tiny, small, ...)")
@click.option("-n", "--negative-prompt", help="what to steer away from [default: the model's]")
@click.option("--size", help="WIDTHxHEIGHT, e.g. 832x480 [default: the model's]")
@click.option("--aspect", type=click.Choice(["16:9", "9:16", "1:1", "4:3", "3:4"]),
              help="aspect ratio at the model's default shorter side (instead of --size)")
@click.option("--frames", type=int, help="number of frames, 4n+1 for Wan models [default: the model's]")
@click.option("--seconds", type=float, help="duration; frames = seconds x fps + 1 (instead of --frames)")
@click.option("--fps", type=float, help="frames per second [default: the model's]")
@click.option("--steps", type=int, help="denoising steps [default: the model's]")
@click.option("--guidance", type=float, help="classifier-free guidance scale; <= 1 turns it off")
@click.option("--seed", type=int, help="random seed; the same seed and settings give the same video")
@click.option("--solver", type=click.Choice(SOLVER_CHOICES), help="ODE solver [default: the model's]")
@click.option("--shift", type=float, help="timestep shift (Wan uses 3 at 480p, 5 at 720p)")
@click.option("--guidance-interval", type=(float, float), metavar="LOW HIGH",
              help="noise levels (1 = pure noise) where guidance applies; one pass per step elsewhere "
                   "[default: the model's]")
@click.option("--lora", type=click.Path(exists=True, path_type=Path), help="LoRA adapter folder to attach")
@click.option("--lora-scale", type=float, default=1.0, show_default=True, help="strength of the LoRA adapter")
@click.option("--gif", is_flag=True, help="also write an animated GIF beside the MP4")
@click.option("--sheet", is_flag=True, help="also write a PNG contact sheet of frames beside the MP4")
@click.option("--crf", type=click.IntRange(0, 51), default=18, show_default=True,
              help="H.264 quality (lower is better)")
@click.option("--manifest-prompt", is_flag=True, default=None,
              help="include the prompt in the signed C2PA manifest [default: provenance.toml, off]")
@click.option("--allow-unwatermarked", is_flag=True, default=None,
              help="write frames too small for the watermark, marked \"not watermarked\", instead of failing")
@click.option("--device", help="cpu, cuda, cuda:1 ... [default: cuda if available]")
@click.option("--dtype", type=click.Choice(sorted(DTYPES)), help="weights dtype [default: bf16 on GPU, fp32 on CPU]")
@click.option("-f", "--force", is_flag=True, help="overwrite the output if it exists")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar and no summary line")
@click.option("--json", "as_json", is_flag=True, help="print the generation record as JSON on stdout")
def generate(prompt: str, output: Path | None, model: str, negative_prompt: str | None, size: str | None,
             aspect: str | None, frames: int | None, seconds: float | None, fps: float | None, steps: int | None,
             guidance: float | None, seed: int | None, solver: str | None, shift: float | None,
             guidance_interval: tuple[float, float] | None, lora: Path | None,
             lora_scale: float, gif: bool,
             sheet: bool, crf: int, manifest_prompt: bool | None, allow_unwatermarked: bool | None,
             device: str | None, dtype: str | None, force: bool, quiet: bool, as_json: bool) -> None:
    """Generate a video from PROMPT (English or Chinese) and write it as MP4.

    Beside the MP4 goes a JSON generation record (prompt, seed, every setting, model and weights
    hash, time per stage, peak memory, energy); the MP4 carries the same record in its metadata.
    Every video is watermarked and C2PA-signed (check one with `openreel verify`), and prompts
    pass the content policy first.

    \b
    Examples:
      openreel generate "a red ball falls and bounces on a black background" -o ball.mp4
      openreel generate "黑色背景上，一个蓝色方块向右移动" --seed 7 --frames 33 --size 256x256 --steps 20 -o cube.mp4
      openreel generate "a pink ball bounces around" --aspect 16:9 --seconds 2 --gif --sheet
      openreel generate "a green cube slides left" --guidance 7 --guidance-interval 0.8 1
      openreel generate --model /models/Wan2.1-T2V-1.3B-Diffusers "a cat surfing" --size 832x480 --frames 81 -o cat.mp4
      openreel generate "a red ball" --model tiny --steps 4 --json -q > record.json
      openreel generate "a cat surfing" --model /models/Wan2.1-T2V-1.3B-Diffusers --lora adapters/cats --lora-scale 0.8
    """
    from openreel.request import parse_request

    output = output or default_output(prompt, seed)
    if output.suffix.lower() != ".mp4":
        raise InvalidInput("output", f"{output} must end in .mp4 (--gif and --sheet add a GIF and a PNG beside it)")
    if output.exists() and not force:
        raise InvalidInput("output", f"{output} exists; pass --force to overwrite it")
    # fails fast, before torch and a model load
    request = parse_request(prompt=prompt, negative_prompt=negative_prompt, size=size, aspect=aspect, frames=frames,
                            seconds=seconds, fps=fps, steps=steps, guidance=guidance, seed=seed, solver=solver,
                            shift=shift, guidance_interval=guidance_interval)
    from openreel.provenance.policy import check_prompt_policy

    check_prompt_policy(request.prompt)  # also checked in Generator.resolve; here it answers before the model loads
    import warnings

    import torch

    from openreel.generator import Generator, resolve_model_name

    if device is not None and device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInput("device", f"{device} asked for, but this torch build sees no CUDA device")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        name = resolve_model_name(model)
    for w in caught:
        click.secho(f"note: {w.message}", fg="yellow", err=True)
    gen = Generator.from_pretrained(name, device=device, dtype=getattr(torch, DTYPES[dtype]) if dtype else None,
                                    lora=lora, lora_scale=lora_scale)
    show_bar = not quiet and sys.stderr.isatty()
    video = gen.generate(request, progress_bar=show_bar)
    written = video.save(output, gif=gif, sheet=sheet, crf=crf, manifest_prompt=manifest_prompt,
                         allow_unwatermarked=allow_unwatermarked)
    if as_json:
        click.echo(json.dumps(video.record.model_dump(), ensure_ascii=False, indent=2))
    if not quiet:
        extras = ", ".join(str(p) for k, p in written.items() if k != "video")
        click.echo(f"wrote {written['video']} ({extras}) | {video.record.summary()}", err=as_json)
