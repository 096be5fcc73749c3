"""Training throughput: samples/s and latent tokens/s per preset and run kind, from real runs.

Each case is a short `openreel train` run on shapes-world clips rendered on the fly (rendering,
VAE encoding and text encoding included, as in a real run); the first two steps are warm-up and
the median of the rest is reported. Results go to benchmarks/results/train-<device>.json.

    python benchmarks/train.py                     # tiny and small, t2v and vae, 128x128x17
    python benchmarks/train.py --presets small --size 256 --frames 33 --steps 12
    # the default VAE's CPU settings, side by side (MODEL_CARD.md):
    python benchmarks/train.py --presets shapes --kinds vae --frames 33 --crop 64 --workers 0 \
        --precisions no bf16 --batches 2 8 --steps 12 --out benchmarks/results/train-vae-precision-cpu.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from openreel.train.config import load_config
from openreel.train.loop import train

try:  # the generate benchmark's machine description
    from generate import machine
except ImportError:  # run from elsewhere
    from benchmarks.generate import machine


def measure(kind: str, preset: str, size: int, frames: int, batch: int, steps: int, tmp: Path, *,
            precision: str, extra: list[str]) -> dict:
    out = tmp / f"{kind}-{preset}-{precision}-{batch}"
    cfg = load_config(None, [f"model.base={preset}", f"data.width={size}", f"data.height={size}",
                             f"data.frames={frames}", f"run.batch_size={batch}", f"run.steps={steps}",
                             "run.log_every=1", f"run.save_every={steps + 1}", f'run.out="{out}"',
                             f"run.mixed_precision={precision}", *extra]
                      + (["vae.stats_batches=1"] if kind == "vae" else []))  # stats come after the timed steps
    train(kind, cfg, show_progress=False)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][2:]
    return {"kind": kind, "preset": preset, "size": size, "frames": frames, "batch": batch,
            "precision": precision, "settings": extra, "steps_timed": len(rows),
            "samples_per_s": statistics.median(r["samples_per_s"] for r in rows),
            "tokens_per_s": statistics.median(r["tokens_per_s"] for r in rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"])
    ap.add_argument("--kinds", nargs="+", default=["t2v", "vae"])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--batches", type=int, nargs="+", default=[2])
    ap.add_argument("--precisions", nargs="+", choices=["no", "bf16", "fp16"],
                    help="run.mixed_precision values (default: bf16 on a GPU, no on a CPU)")
    ap.add_argument("--crop", type=int, help="data.crop (VAE runs only)")
    ap.add_argument("--workers", type=int, help="data.workers")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    precisions = args.precisions or ["bf16" if device == "cuda" else "no"]
    extra = [f"data.crop={args.crop}"] if args.crop else []
    if args.workers is not None:
        extra.append(f"data.workers={args.workers}")
    results = {"benchmark": "train", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "cases": []}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            for kind in args.kinds:
                for precision in precisions:
                    for batch in args.batches:
                        case = measure(kind, preset, args.size, args.frames, batch, args.steps, Path(tmp),
                                       precision=precision, extra=extra)
                        results["cases"].append(case)
                        print(f"{kind:4s} {preset:6s} {args.size}x{args.size}x{args.frames} {precision:4s} "
                              f"batch {batch}: {case['samples_per_s']:.2f} samples/s, "
                              f"{case['tokens_per_s']:.0f} tokens/s", flush=True)
    out = args.out or Path(__file__).parent / "results" / f"train-{device}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
