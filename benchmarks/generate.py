"""OpenReel's `Generator.generate` against stock `diffusers.WanPipeline`, same folder, settings and seed.

Runs alternate (ours, stock, ours, stock, ...) after one warm-up each, so drift in machine load
hits both alike; medians and the ratio stock/ours go to benchmarks/results/generate-<device>.json.
Both sides use an Euler flow-matching solver, guidance (so CFG's two branches), and decode with
the same VAE; MP4 encoding is not timed.

    python benchmarks/generate.py                          # tiny and small presets, 256x256x33, 20 steps
    python benchmarks/generate.py --model /models/Wan2.1-T2V-1.3B-Diffusers --size 832x480 --frames 81
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline

from openreel import Generator, __version__
from openreel.models import build_preset, save_model
from openreel.record import _cpu_name, cpu_count

PROMPT = "a red ball falls and bounces on a black background"


def machine() -> dict:
    info = {"cpu": _cpu_name(), "cores": cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__, "openreel": __version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    info["cpu_bf16"] = _cpu_bf16()
    return info


def _cpu_bf16() -> str | None:
    """How this CPU does bf16 matmuls: 'amx', 'avx512_bf16' or 'none' (None off Linux). bf16
    autocast pays on AMX and may not elsewhere, so training speed-ups depend on it."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return None
    return "amx" if "amx_bf16" in flags else "avx512_bf16" if "avx512_bf16" in flags else "none"


def bench_folder(folder: Path, *, size: str, frames: int, steps: int, guidance: float, repeats: int,
                 device: torch.device) -> dict:
    width, height = (int(v) for v in size.split("x"))
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    ours = Generator.from_pretrained(folder, device=device, dtype=dtype)
    # As Wan's own example: VAE in fp32, the rest in the compute dtype (OpenReel does the same).
    vae = AutoencoderKLWan.from_pretrained(folder, subfolder="vae", dtype=torch.float32, local_files_only=True)
    stock = WanPipeline.from_pretrained(folder, vae=vae, dtype=dtype, local_files_only=True)
    stock.scheduler = FlowMatchEulerDiscreteScheduler(shift=ours.model.defaults.shift)
    stock.set_progress_bar_config(disable=True)
    stock.to(device)
    stock.scheduler.set_timesteps(steps)
    sigmas = stock.scheduler.sigmas.tolist()  # same noise levels on both sides
    text_len = ours.model.defaults.text_len

    def run_ours() -> float:
        start = time.perf_counter()
        ours.generate(PROMPT, seed=0, size=size, frames=frames, steps=steps, guidance=guidance, solver="euler",
                      sigmas=sigmas)
        return time.perf_counter() - start

    def run_stock() -> float:
        start = time.perf_counter()
        stock(prompt=PROMPT, negative_prompt=ours.model.defaults.negative_prompt, height=height, width=width,
              num_frames=frames, num_inference_steps=steps, guidance_scale=guidance, max_sequence_length=text_len,
              generator=torch.Generator("cpu").manual_seed(0), output_type="np")
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    run_ours(), run_stock()  # warm-up: allocator, kernels, caches
    times = {"openreel": [], "diffusers": []}
    for _ in range(repeats):
        times["openreel"].append(run_ours())
        times["diffusers"].append(run_stock())
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"settings": {"size": size, "frames": frames, "steps": steps, "guidance": guidance, "solver": "euler",
                         "dtype": str(dtype).removeprefix("torch.")},
            "seconds": times, "median_s": med, "ratio_diffusers_over_openreel": med["diffusers"] / med["openreel"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="model folder or preset (repeatable) [tiny, small]")
    ap.add_argument("--size", default="256x256")
    ap.add_argument("--frames", type=int, default=33)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", type=Path, help="results file [benchmarks/results/generate-<device>.json]")
    args = ap.parse_args()
    device = torch.device(args.device)
    results = {"benchmark": "generate", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.model or ["tiny", "small"]:
            folder = Path(name)
            if not folder.is_dir():
                folder = save_model(build_preset(name), Path(tmp) / name)
            print(f"{name}: {args.size} x {args.frames} frames, {args.steps} steps on {device} ...", flush=True)
            run = bench_folder(folder, size=args.size, frames=args.frames, steps=args.steps,
                               guidance=args.guidance, repeats=args.repeats, device=device)
            results["runs"][name] = run
            m = run["median_s"]
            print(f"  openreel {m['openreel']:.2f}s  diffusers {m['diffusers']:.2f}s  "
                  f"ratio {run['ratio_diffusers_over_openreel']:.2f}x", flush=True)
    out = args.out or Path(__file__).parent / "results" / f"generate-{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
