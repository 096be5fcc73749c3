"""How much object colour does a model's x̂0 hold at σ = 1, where sampling starts, against real clips?

At pure noise the loss-optimal x̂0 is the posterior mean over every clip the caption allows; a loss
weighted by the clean clip's objects (`flow.foreground_weight`) pulls it toward more object. Per
pixel and object colour c, amount = clip(<p − bg, c − bg> / |c − bg|², 0, 1), bg the clip's median
colour, summed over the scene's distinct colours, averaged over pixels and frames. Read it between
models: the clip, colours that are not orthogonal and the VAE decode (not linear) make real clips'
amount (their objects' area share) no exact reference for a blurred mean.

    python benchmarks/x0_object_colour.py default models/other --count 48 \\
        --out benchmarks/results/default-t2v-x0-object-colour.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from openreel.eval.suite import HELDOUT_SEED, suite_prompts
from openreel.generator import Generator
from openreel.sampling.loop import decode_latents, guided_velocity, latent_shape
from openreel.text.encode import encode_prompts
from openreel.world.dataset import make_sample
from openreel.world.vocab import COLORS


def object_amount(frames: np.ndarray, colours: set[str]) -> float:
    """frames (T, H, W, 3) in [0, 1] → mean amount of the named colours per pixel."""
    bg = np.median(frames.reshape(-1, 3), axis=0)  # objects cover a few percent of a clip
    total = 0.0
    for c in colours:
        d = np.array(COLORS[c], float) / 255 - bg
        total += float(np.clip(((frames - bg) @ d) / (d @ d), 0, 1).mean())
    return total


@torch.no_grad()
def x0_at_noise(generator: Generator, prompt: str, seed: int) -> np.ndarray:
    """The conditional x̂0 = x_1 − v(x_1, σ = 1), decoded: (T, H, W, 3) in [0, 1]."""
    model, s = generator.model, generator.resolve(prompt, seed=seed)
    context = encode_prompts(model.tokenizer, model.text_encoder, [s.prompt], s.text_len)
    noise = torch.randn(latent_shape(model, s), generator=torch.Generator().manual_seed(seed))
    velocity = guided_velocity(model, context.to(model.transformer.dtype), 1.0, batch_cfg=False)  # conditional only
    video = decode_latents(model, noise - velocity(noise, torch.tensor(1.0)))[0]  # (3, T, H, W) in [-1, 1]
    return ((video.clamp(-1, 1) + 1) / 2).permute(1, 2, 3, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="'default' or model folders")
    parser.add_argument("--count", type=int, default=48, help="held-out prompts (even English, odd Chinese)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    prompts = suite_prompts("heldout", args.count)  # what `openreel eval` generates: its prompts and seeds
    samples = [make_sample(HELDOUT_SEED, p.seed) for p in prompts]  # their scenes, rendered
    colours = [{o.color for o in s.scene.objects} for s in samples]
    result = {"prompts": args.count, "suite": "heldout",
              "real": float(np.mean([object_amount(s.frames / 255.0, c) for s, c in zip(samples, colours)])),
              "models": {}}
    for name in args.models:
        generator = Generator.from_pretrained(name, device="cpu")
        amounts = [object_amount(x0_at_noise(generator, p.prompt, p.seed), c) for p, c in zip(prompts, colours)]
        result["models"][name] = {"id": generator.model.spec.name, "weights": generator.weights_hash[:12],
                                  "amount": round(float(np.mean(amounts)), 5)}
        print(f"{name}: {result['models'][name]['amount']:.4f} (real clips {result['real']:.4f})", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
