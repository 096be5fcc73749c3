"""At which noise level a model loses what a clip shows: noise a held-out clip's latents to σ_start,
denoise them with the clip's own caption, decode, and score the result against the clip's scene.

This is SDEdit's partial denoising (Meng et al. 2022, arXiv:2108.01073) used as a probe. From
σ_start = 1 it is plain generation (the same video `sample_video` makes from the same seed); from a
small σ_start it is a VAE round trip. Where in between the scores fall shows which noise levels the
model cannot yet hold objects at, which is where training (or the sampler's steps) has to go: a
model that keeps every object from σ 0.6 but none from σ 1 knows what objects look like and fails
only to create them from noise.
"""

from __future__ import annotations

import torch

from openreel.sampling.loop import decode_latents, guided_velocity, to_uint8
from openreel.sampling.schedule import flow_sigmas
from openreel.sampling.solvers import SOLVERS
from openreel.text.encode import encode_prompts

STARTS = (0.6, 0.8, 0.9, 1.0)


def sigmas_from(start: float, steps: int, shift: float) -> torch.Tensor:
    """The part of the `steps`-step generation schedule below `start`, with `start` first."""
    if not 0.0 < start <= 1.0:
        raise ValueError(f"start must be in (0, 1], got {start}")
    full = flow_sigmas(steps, shift)
    return torch.cat([torch.tensor([start]), full[full < start]])


@torch.no_grad()
def renoise(model, latents: torch.Tensor, caption: str, start: float, *, steps: int = 20,
            guidance: float = 5.0, solver: str = "unipc", seed: int = 0) -> torch.Tensor:
    """Normalised latents (1, C, T', H', W') mixed with seeded noise to σ = `start`, then solved back
    to σ = 0 with the caption (negative prompt empty). Returns latents of the same shape."""
    noise = torch.randn(latents.shape, generator=torch.Generator("cpu").manual_seed(seed)).to(latents.device)
    x = (1 - start) * latents + start * noise
    prompts = [caption, ""] if guidance > 1.0 else [caption]
    context = encode_prompts(model.tokenizer, model.text_encoder, prompts, model.defaults.text_len)
    velocity = guided_velocity(model, context.to(model.transformer.dtype), guidance, batch_cfg=False)
    sigmas = sigmas_from(start, steps, model.defaults.shift).to(latents.device)
    return SOLVERS[solver](velocity, x, sigmas)


def renoise_scores(model, samples, starts=STARTS, **kwargs) -> dict:
    """Per σ_start: the share of `samples` (world samples: frames, scene, captions) whose renoised
    video passes the evaluator, the share passing each check, and `present_share` (the report's
    partial credit for objects drawn in some frames). Captions alternate English and
    Chinese; clip i uses noise seed i. `kwargs` go to `renoise`."""
    from openreel.eval.report import EvalItem, aggregate
    from openreel.eval.score import score_clip
    from openreel.train.data import channels_first, to_model_range
    from openreel.train.loop import encode_video

    frames = model.defaults.frames
    latents = [encode_video(model.vae, to_model_range(channels_first(s.frames[:frames])[None], model.device))
               for s in samples]
    result = {}
    for start in starts:
        items = []
        for i, (sample, z) in enumerate(zip(samples, latents)):
            lang = "en" if i % 2 == 0 else "zh"
            denoised = renoise(model, z, sample.captions[lang][0], start, seed=i, **kwargs)
            video = to_uint8(decode_latents(model, denoised))
            items.append(EvalItem(id=str(i), scene=sample.scene, score=score_clip(video, sample.scene), lang=lang))
        report = aggregate(items)
        result[start] = ({"pass": report.overall.rate} | {c: r.rate for c, r in report.per_check.items()}
                         | {"present_share": report.present_share})
    return result
