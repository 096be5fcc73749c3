"""How much a model reads its prompt: the flow-matching loss on clips with their own captions
against the same clips given each other's captions, at fixed noise levels.

A model that ignores the text scores the same either way (gain 0): it can still lower its loss by
learning what shapes-world videos look like in general, so a falling training loss says nothing
about prompt adherence. The gain is reported per σ because the caption matters only where the noise
hides the picture: at σ = 1 it is all the model has to go on (the sampler's first steps, where the
layout and background are decided); near 0 the input shows the answer.
"""

from __future__ import annotations

import torch

from openreel.sampling.schedule import NUM_TRAIN_TIMESTEPS
from openreel.text.encode import encode_prompts

SIGMAS = (0.5, 0.8, 0.95, 1.0)


@torch.no_grad()
def caption_gain(model, latents: torch.Tensor, captions: list[str], sigmas=SIGMAS, seed: int = 0) -> dict:
    """Per σ: velocity MSE with the right captions, with captions rolled by one clip, with the empty
    prompt, and gain = shuffled − right (> 0: the model uses the text).

    `latents` (B, C, T, H, W) are normalised posterior means; `captions` has B ≥ 2 entries.
    """
    if len(captions) != latents.shape[0] or len(captions) < 2:
        raise ValueError(f"need one caption per clip and at least 2 clips, got {len(captions)} for {latents.shape[0]}")
    b, _, t, h, w = latents.shape
    _, ph, pw = model.transformer.config.patch_size
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(seed)).to(latents)
    target = noise - latents
    contexts = {
        "right": encode_prompts(model.tokenizer, model.text_encoder, captions, model.defaults.text_len),
        "empty": encode_prompts(model.tokenizer, model.text_encoder, [""] * b, model.defaults.text_len),
    }
    contexts["shuffled"] = torch.roll(contexts["right"], 1, dims=0)
    dtype = model.transformer.dtype
    result = {}
    for sigma in sigmas:
        noisy = ((1 - sigma) * latents + sigma * noise).to(dtype)
        shape = (b, t * (h // ph) * (w // pw)) if model.expand_timesteps else (b,)
        timestep = torch.full(shape, sigma * NUM_TRAIN_TIMESTEPS, device=latents.device)
        row = {}
        for name, context in contexts.items():
            pred = model.transformer(hidden_states=noisy, timestep=timestep,
                                     encoder_hidden_states=context.to(dtype), return_dict=False)[0]
            row[name] = ((pred.float() - target) ** 2).mean().item()
        row["gain"] = row["shuffled"] - row["right"]
        result[sigma] = row
    return result
