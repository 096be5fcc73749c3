"""Which video VAE shape fits a CPU: encode and decode time of 2 s clips (128x128x33) per candidate.

Timing only (random weights: speed does not depend on training). Quality of the chosen one, once
trained, is in MODEL_CARD.md. Results go to benchmarks/results/vae-choice.json.

    python benchmarks/vae_choice.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan

from openreel.models.presets import _ti2v_vae, _vae

try:
    from generate import machine
except ImportError:
    from benchmarks.generate import machine

CANDIDATES = {
    "wan2.1-style 8x, z16, base 16": _vae(16, [1, 2, 2, 2], 1),
    "wan2.2-style 16x, z48, base 16 (chosen)": _ti2v_vae(16, 1),
    "wan2.2-style 16x, z48, base 24": _ti2v_vae(24, 1),
    "wan2.2-style 16x, z48, base 32": _ti2v_vae(32, 1),
    # the same residual blocks without the 2x2 patchify: a 16x16 latent grid at 128x128, and with
    # 12 channels the 16x's compression (a 1x2x2-patch transformer sees the same 576 tokens)
    "wan2.2-style 8x (no patchify), z12, base 16": _vae(16, [1, 2, 2, 2], 1, z_dim=12) | {"is_residual": True},
}


@torch.no_grad()
def measure(config: dict, clip: torch.Tensor, repeats: int) -> dict:
    torch.manual_seed(0)
    vae = AutoencoderKLWan(**config).eval()
    enc, dec = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        z = vae.encode(clip).latent_dist.mean
        enc.append(time.perf_counter() - start)
        start = time.perf_counter()
        vae.decode(z)
        dec.append(time.perf_counter() - start)
    return {"parameters_m": round(sum(p.numel() for p in vae.parameters()) / 1e6, 3), "latent_shape": list(z.shape),
            "compression": round(clip.numel() / z.numel(), 1),
            "encode_s_median": round(statistics.median(enc), 3), "decode_s_median": round(statistics.median(dec), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=33)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "vae-choice.json"))
    args = parser.parse_args()
    clip = torch.rand(1, 3, args.frames, args.size, args.size) * 2 - 1  # (B, C, T, H, W)
    results = {}
    for name, config in CANDIDATES.items():
        results[name] = measure(config, clip, args.repeats)
        print(f"{name:42s} {results[name]}")
    out = {"benchmark": "vae_choice", "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": machine(), "clip": [1, 3, args.frames, args.size, args.size], "repeats": args.repeats,
           "results": results}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
