"""Evaluator accuracy: pass rate on ground-truth clips (should be ~100 %) and false-pass rate on
deliberately mismatched (video, description) pairs (should be ~0 %), per condition and kind.

Ground truth: clips from the default distribution (1-3 objects, every motion, 2 s), scored
against their scene descriptions: raw frames and after H.264 (CRF 23, yuv420p), at 256^2,
128^2 and 64^2; plus mixed aspect ratios and durations; plus scoring against parsed captions
(English and Chinese) instead of the scene. Mismatches: every kind of openreel.eval.mismatch.

    python benchmarks/eval_accuracy.py            # writes benchmarks/results/eval_accuracy.json
    python benchmarks/eval_accuracy.py --clips 100 --pairs 30
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def h264(frames: np.ndarray, crf: int) -> np.ndarray:
    from openreel.video.io import read_video, write_mp4

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.mp4")
        write_mp4(frames, path, 16, crf=crf)
        return read_video(path).frames


def ground_truth(job: tuple) -> dict:
    """Score clip i of a condition; returns pass flag, failures, seconds spent scoring."""
    name, size, crf, i, extra = job
    from openreel.eval.score import score_clip
    from openreel.world.captions import captions
    from openreel.world.parse import parse_caption
    from openreel.world.physics import simulate
    from openreel.world.render import render
    from openreel.world.sampler import SceneDist, sample_scene

    dist = SceneDist(size=size, **extra.get("dist", {}))
    scene = sample_scene(np.random.default_rng([101, size, i]), dist)
    frames = render(scene, simulate(scene))
    if crf is not None:
        frames = h264(frames, crf)
    if "lang" in extra:  # score against a parsed caption instead of the scene
        text = captions(scene, np.random.default_rng([102, i]), extra["lang"], 1)[0]
        claim = parse_caption(text)
    else:
        text, claim = None, scene.describe()
    started = time.perf_counter()
    score = score_clip(frames, claim)
    seconds = time.perf_counter() - started
    return {
        "condition": name,
        "i": i,
        "passed": score.passed,
        "seconds": seconds,
        "caption": text,
        "objects": [o.label() for o in scene.objects],
        "failures": score.failures(),
    }


def mismatch(job: tuple) -> dict:
    kind, size, crf, i = job
    from openreel.eval.mismatch import make_pair
    from openreel.eval.score import score_clip

    pair = make_pair(kind, np.random.default_rng([103, size, i]), size=size)
    frames = pair.frames if crf is None else h264(pair.frames, crf)
    score = score_clip(frames, pair.claim)
    return {
        "kind": kind,
        "size": size,
        "crf": crf,
        "i": i,
        "passed": score.passed,
        "change": pair.change,
        "objects": [o.label() for o in pair.truth.objects],
        "failed_checks": score.failures()[:3],
    }


def rate(rows: list[dict]) -> dict:
    n, k = len(rows), sum(r["passed"] for r in rows)
    return {"passed": k, "total": n, "rate": round(k / n, 4) if n else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=300, help="ground-truth clips per condition")
    ap.add_argument("--pairs", type=int, default=50, help="mismatched pairs per kind and condition")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "eval_accuracy.json"))
    args = ap.parse_args()
    from openreel.eval.mismatch import KINDS

    mixed = {"dist": {"aspects": {"1:1": 1, "16:9": 1, "9:16": 1}, "seconds": {2.0: 1, 3.0: 1, 5.0: 1}}}
    conditions = [
        ("256_raw", 256, None, {}),
        ("256_crf23", 256, 23, {}),
        ("128_raw", 128, None, {}),
        ("128_crf23", 128, 23, {}),
        ("64_raw", 64, None, {}),
        ("64_crf23", 64, 23, {}),
        ("128_raw_mixed_aspect_duration", 128, None, mixed),
        ("128_crf23_caption_en", 128, 23, {"lang": "en"}),
        ("128_crf23_caption_zh", 128, 23, {"lang": "zh"}),
    ]
    gt_jobs = [(name, size, crf, i, extra) for name, size, crf, extra in conditions for i in range(args.clips)]
    mm_conditions = [(128, None), (128, 23), (64, 23)]
    mm_jobs = [(kind, size, crf, i) for kind in KINDS for size, crf in mm_conditions for i in range(args.pairs)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        gt = pool.map(ground_truth, gt_jobs, chunksize=8)
        mm = pool.map(mismatch, mm_jobs, chunksize=8)
    results: dict = {
        "what": __doc__.split("\n\n")[0],
        "clips_per_condition": args.clips,
        "pairs_per_kind": args.pairs,
        "ground_truth": {},
        "mismatch_false_pass": {},
    }
    for name, *_ in conditions:
        rows = [r for r in gt if r["condition"] == name]
        entry = rate(rows)
        entry["eval_ms_per_clip"] = round(1000 * float(np.mean([r["seconds"] for r in rows])), 1)
        entry["failures"] = [
            {k: r[k] for k in ("i", "objects", "caption", "failures")} for r in rows if not r["passed"]
        ][:20]
        results["ground_truth"][name] = entry
        print(
            f"ground truth {name:32s} {entry['rate']:.3f} ({entry['passed']}/{entry['total']}), "
            f"{entry['eval_ms_per_clip']} ms/clip",
            flush=True,
        )
    for size, crf in mm_conditions:
        cond = f"{size}_{'raw' if crf is None else f'crf{crf}'}"
        per_kind = {}
        for kind in KINDS:
            rows = [r for r in mm if r["kind"] == kind and r["size"] == size and r["crf"] == crf]
            entry = rate(rows)
            entry["false_passes"] = [{k: r[k] for k in ("i", "change", "objects")} for r in rows if r["passed"]][:10]
            per_kind[kind] = entry
            print(
                f"mismatch {cond:10s} {kind:18s} false pass {entry['rate']:.3f} ({entry['passed']}/{entry['total']})",
                flush=True,
            )
        all_rows = [r for r in mm if r["size"] == size and r["crf"] == crf]
        results["mismatch_false_pass"][cond] = {"all": rate(all_rows), **per_kind}
    results["seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
