"""Shapes-world render throughput: clips per second at 256^2 and 128^2, 2 s clips (33 frames).

Figures per size:
  render_1_process     sample + simulate + render in one process (the trainer's in-memory stream)
  render_N_processes   the same over N worker processes
  dataset_N_workers    `write_dataset`: render + H.264 (CRF 10) + captions + metadata.jsonl

    python benchmarks/world_render.py                 # writes benchmarks/results/world_render.json
    python benchmarks/world_render.py --clips 100 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import av
    import PIL

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu, "cores_total": os.cpu_count(), "cores_usable": usable, "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
        "python": sys.version.split()[0], "numpy": np.__version__, "pillow": PIL.__version__, "av": av.__version__,
    }


def bench_render(size: int, clips: int) -> dict:
    from openreel.world.physics import simulate
    from openreel.world.render import render
    from openreel.world.sampler import SceneDist, sample_scene

    dist = SceneDist(size=size)
    started = time.perf_counter()
    frames = 0
    for i in range(clips):
        scene = sample_scene(np.random.default_rng([0, i, 0]), dist)
        frames += len(render(scene, simulate(scene)))
    seconds = time.perf_counter() - started
    return {"clips": clips, "seconds": round(seconds, 3), "clips_per_s": round(clips / seconds, 1),
            "frames_per_s": round(frames / seconds, 1)}


def _render_one(job: tuple[int, int]) -> int:
    from openreel.world.render import render_scene
    from openreel.world.sampler import SceneDist, sample_scene

    size, i = job
    return len(render_scene(sample_scene(np.random.default_rng([0, i, 0]), SceneDist(size=size))))


def bench_render_parallel(size: int, clips: int, workers: int) -> dict:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_render_one, [(size, 10**6 + k) for k in range(2 * workers)])  # warm up: imports
        started = time.perf_counter()
        frames = sum(pool.map(_render_one, [(size, i) for i in range(clips)], chunksize=8))
        seconds = time.perf_counter() - started
    return {"clips": clips, "workers": workers, "seconds": round(seconds, 3),
            "clips_per_s": round(clips / seconds, 1), "frames_per_s": round(frames / seconds, 1)}


def bench_dataset(size: int, clips: int, workers: int) -> dict:
    from openreel.world.dataset import write_dataset
    from openreel.world.sampler import SceneDist

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        write_dataset(Path(tmp) / "ds", clips, seed=0, dist=SceneDist(size=size), workers=workers, crf=10)
        seconds = time.perf_counter() - started
        mb = sum(f.stat().st_size for f in (Path(tmp) / "ds").rglob("*") if f.is_file()) / 1e6
    return {"clips": clips, "workers": workers, "seconds": round(seconds, 2),
            "clips_per_s": round(clips / seconds, 1), "megabytes": round(mb, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=300, help="clips per measurement at 128^2 (half at 256^2)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "world_render.json"))
    args = ap.parse_args()
    results = {"what": "shapes-world clips per second; 2 s clips (33 frames), default scene distribution",
               "machine": machine(), "sizes": {}}
    for size, clips in ((256, args.clips // 2), (128, args.clips)):
        entry = {
            "render_1_process": bench_render(size, clips),
            f"render_{args.workers}_processes": bench_render_parallel(size, clips, args.workers),
            f"dataset_{args.workers}_workers": bench_dataset(size, clips, args.workers),
        }
        results["sizes"][f"{size}x{size}"] = entry
        print(size, json.dumps(entry), flush=True)
    # Other work on the machine slows these figures; the load average says how busy it was.
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
