"""Self-attention for clips with more tokens than a model trained on.

A softmax over N keys spreads thinner as N grows, so a model trained on 2 s clips (576 tokens for
ours) attends more diffusely over an 8 s one (2,112) and draws fainter objects throughout the clip,
not just at its end. Multiplying the logits by log N (Chiang & Cholak 2022, "Overcoming a
Theoretical Limitation of Self-Attention", arXiv:2202.12172), relative to the trained length,
keeps a query's attention about as sharp as in training; Jin et al. 2023 (arXiv:2306.08645) derive
the square root of that factor for images of other sizes. On our model's 8 s clips the full
factor (x1.20) gave back more than the root (x1.10): objects' colour found in 49 / 45 / 40 % of
frames (scaled / root / plain; 2 s clips: 58 %), `benchmarks/results/default-model-lengths.json`.
But read strictly, per object, it draws no more objects as one blob, and keeps fewer whole through
the clip (consistency: 3 gained, 20 lost over five paired suites of 100 prompts, longer and 16:9,
seen and held-out, p = 0.0005; `benchmarks/results/default-model-length-rule.json`): more blobs of the colour,
not better objects. So it is opt-in per model through `openreel.json` (`"attention_scaling":
true`), off for ours since 2026-12-04 and for stock Wan folders, which keep diffusers' numbers.

The same factor at every clip size can be folded into a model's weights
(`fold_self_attention_scale`, `openreel model sharpen`). It is not used for ours: on 100 prompts of
scenes it trained on, logits x1.15 to x2 found objects' colour in more frames (59 % → 68–81 %) but
drew fewer of them as one blob (25 → 21–4 of 182 objects; more split in two): sharper attention
makes more blobs, not better objects (`benchmarks/results/default-model-sharper-attention.json`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch

from openreel.errors import InvalidInput


def length_scale(tokens: int, trained_tokens: int) -> float:
    """log N / log N_train for N above the trained count; 1 at or below it (unmeasured there)."""
    if tokens <= trained_tokens or trained_tokens < 2:
        return 1.0
    return math.log(tokens) / math.log(trained_tokens)


class ScaledWanAttnProcessor:
    """Wan's own attention processor with the query-key logits multiplied by `scale`.

    Wan rotates queries and keys with the same (cos, sin) tables, and the rotation is linear in
    them: tables times sqrt(scale) make q and k each sqrt(scale) larger, q·k `scale` times larger,
    and leave the values alone. So the stock processor, and whichever attention backend it
    dispatches to, runs unchanged. Attention without rotary embeddings (cross-attention) is passed
    through as is.
    """

    def __init__(self, inner, scale: float):
        self.inner, self.scale = inner, scale

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None,
                 rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None, **kwargs) -> torch.Tensor:
        if rotary_emb is not None:
            root = math.sqrt(self.scale)
            rotary_emb = (rotary_emb[0] * root, rotary_emb[1] * root)
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb, **kwargs)


@contextmanager
def scaled_self_attention(transformers: Iterable[torch.nn.Module | None], scale: float) -> Iterator[None]:
    """Within the block, every self-attention (`attn1`) of each Wan transformer scales its logits by
    `scale`; the processors it had come back afterwards, even on error. Scale 1 changes nothing."""
    saved = []
    if scale != 1.0:
        for net in transformers:
            for block in [] if net is None else net.blocks:
                saved.append((block.attn1, block.attn1.processor))
                block.attn1.set_processor(ScaledWanAttnProcessor(block.attn1.processor, scale))
    try:
        yield
    finally:
        for attn, processor in saved:
            attn.set_processor(processor)


def fold_self_attention_scale(transformer: torch.nn.Module, scale: float) -> None:
    """Multiply every self-attention's logits by `scale` for good, in place.

    Wan normalises each query with an RMSNorm that has a learned gain (`attn1.norm_q.weight`);
    the gain times `scale` makes every query, and so every logit q·k, `scale` times larger (the
    rotation after it is linear). The weights then say it, so the change holds in training as in
    sampling and in any diffusers pipeline that loads the folder.
    """
    if not 0.25 <= scale <= 4.0:
        raise InvalidInput("factor", f"must be 0.25 to 4, got {scale}")
    gains = [getattr(block.attn1.norm_q, "weight", None) for block in transformer.blocks]
    if any(gain is None for gain in gains):  # checked first: a refused model is left as it was
        raise InvalidInput("model", "its self-attention has no query norm gain to fold a factor into "
                                    f"(qk_norm={transformer.config.qk_norm!r})")
    with torch.no_grad():
        for gain in gains:
            gain.mul_(scale)
