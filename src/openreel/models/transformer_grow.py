"""Deepen a trained transformer without changing what it computes.

Each of the trained blocks is followed by `factor - 1` copies of itself whose three residual
outputs (self-attention, cross-attention and feed-forward projections) are zero, so a copy adds
nothing to the residual stream: the deeper model starts exactly where the trained one stands, and
training then puts the new depth to use. This is Net2Net's function-preserving growth (Chen,
Goodfellow & Shlens 2016, "Net2DeeperNet") in the form DiT uses for new blocks, a residual branch
that starts at zero (Peebles & Xie 2023, adaLN-Zero). The copies keep the trained block's other
weights rather than random ones, so the zeroed projections see meaningful inputs, and receive
useful gradients, from the first step.
"""

from __future__ import annotations

import torch
from diffusers import WanTransformer3DModel

from openreel.errors import InvalidInput

# The projections that write into the residual stream (WanTransformerBlock: x + attn1(.) * gate,
# x + attn2(.), x + ffn(.) * gate): zero them and the block is the identity.
RESIDUAL_OUTPUTS = ("attn1.to_out.0.", "attn2.to_out.0.", "ffn.net.2.")
MAX_FACTOR = 8


def deepen_transformer(source: WanTransformer3DModel, factor: int = 2) -> WanTransformer3DModel:
    """`source` with `factor` times its blocks: block i becomes blocks i*factor (the trained one)
    and i*factor+1 ... (identity copies). The output is equal to `source`'s for every input."""
    if not 2 <= factor <= MAX_FACTOR:
        raise InvalidInput("factor", f"must be 2 to {MAX_FACTOR}, got {factor}")
    deeper = WanTransformer3DModel.from_config(source.config, num_layers=source.config.num_layers * factor)
    deeper.to(dtype=source.dtype)
    state = {}  # load_state_dict copies, so tensors may be shared here
    for key, value in source.state_dict().items():
        if not key.startswith("blocks."):
            state[key] = value
            continue
        _, index, rest = key.split(".", 2)
        for copy in range(factor):
            silent = copy > 0 and rest.startswith(RESIDUAL_OUTPUTS)
            state[f"blocks.{int(index) * factor + copy}.{rest}"] = torch.zeros_like(value) if silent else value
    deeper.load_state_dict(state, strict=True)
    return deeper.eval()


def widen_patches(source: WanTransformer3DModel, factor: int = 2) -> WanTransformer3DModel:
    """`source` reading patches `factor` times wider and taller, for a latent grid `factor` times
    finer (`vae_rebuild.unpatchify_vae`), so it sees as many tokens as before.

    Each patch is embedded as the mean of its cells and the output is written to every cell of it:
    on a grid whose cells each repeat over a patch, this computes what `source` computes on the
    coarse grid. A finer VAE's latents are not such a grid (its cells differ), so this is a warm
    start for training on them, not the same model: every weight but the two patch layers is kept.
    """
    if not 2 <= factor <= MAX_FACTOR:
        raise InvalidInput("factor", f"must be 2 to {MAX_FACTOR}, got {factor}")
    pt, ph, pw = source.config.patch_size
    patch = (pt, ph * factor, pw * factor)
    wider = WanTransformer3DModel.from_config(source.config, patch_size=patch)
    wider.to(dtype=source.dtype)
    state = source.state_dict()
    w = state["patch_embedding.weight"]  # (D, C, pt, ph, pw)
    state["patch_embedding.weight"] = w.repeat_interleave(factor, 3).repeat_interleave(factor, 4) / factor**2
    # proj_out's rows are (sub-position, channel), channel fastest; sub-positions (t, h, w), w fastest
    w, b = state["proj_out.weight"], state["proj_out.bias"]  # (pt*ph*pw * C, D), (pt*ph*pw * C,)
    channels = source.config.out_channels
    rows = torch.arange(w.shape[0]).view(pt, ph, pw, channels)
    rows = rows.repeat_interleave(factor, 1).repeat_interleave(factor, 2).reshape(-1)
    state["proj_out.weight"], state["proj_out.bias"] = w[rows], b[rows]
    wider.load_state_dict(state, strict=True)
    return wider.eval()
