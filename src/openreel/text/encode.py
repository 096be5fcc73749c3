"""Prompt → text embeddings, the way Wan models were trained to read them.

The encoder's hidden states for the real tokens are kept and every position after them is set to
zero, up to a fixed `text_len`. The transformer's cross-attention has no mask, so those zero rows
are part of what the model saw in training: `text_len` is a property of the model, not a knob.
"""

from __future__ import annotations

import html
import re

import torch

from openreel.errors import InvalidInput


def clean_prompt(text: str) -> str:
    """Undo HTML escapes and collapse whitespace (as `diffusers.WanPipeline` does without ftfy)."""
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


def count_tokens(tokenizer, text: str) -> int:
    """Number of tokens `text` becomes, end-of-sequence token included."""
    return len(tokenizer(clean_prompt(text), add_special_tokens=True).input_ids)


def check_prompt(tokenizer, text: str, text_len: int, field: str = "prompt", allow_empty: bool = False) -> str:
    """Return the cleaned prompt, or raise naming the field and the limit."""
    if not isinstance(text, str):
        raise InvalidInput(field, f"must be text, got {type(text).__name__}")
    cleaned = clean_prompt(text)
    if not cleaned and not allow_empty:
        raise InvalidInput(field, "is empty; describe the video to generate")
    n = count_tokens(tokenizer, cleaned)
    if n > text_len:
        raise InvalidInput(field, f"is {n} tokens long; this model reads at most {text_len} "
                                  f"(about {len(cleaned) * text_len // n} characters of this text)")
    return cleaned


def encode_prompts(tokenizer, text_encoder, prompts: list[str], text_len: int) -> torch.Tensor:
    """Encode prompts to (B, text_len, D) embeddings, zero after each prompt's last token.

    Differentiable (the trainer may train the encoder); samplers call it under `torch.no_grad()`.
    """
    tokens = tokenizer(
        [clean_prompt(p) for p in prompts],
        padding="max_length",
        max_length=text_len,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    device = next(text_encoder.parameters()).device  # also works through a DDP wrapper
    mask = tokens.attention_mask.to(device)  # (B, L)
    hidden = text_encoder(tokens.input_ids.to(device), mask).last_hidden_state  # (B, L, D)
    return torch.where(mask.bool().unsqueeze(-1), hidden, torch.zeros((), dtype=hidden.dtype, device=device))
