"""Longer clips than the model trained on: do they hold up from start to end?

Scores generated suites (one folder per clip length, from `openreel eval --model ... --frames N`)
whole and in consecutive windows of the training length (33 frames, windows sharing their edge
frame), so a model that drifts shows it as falling numbers from window to window. The window
checks that do not depend on where a motion starts are the ones to read across windows: present,
colour found (`present_share`), background, no extra objects.

    openreel eval --model default --count 100 --report runs/len/f33/eval.md
    openreel eval --model default --count 100 --frames 65 --report runs/len/f65/eval.md
    openreel eval --model default --count 100 --frames 129 --report runs/len/f129/eval.md
    python benchmarks/clip_length.py runs/len/f33/eval-videos runs/len/f65/eval-videos \\
        runs/len/f129/eval-videos --out benchmarks/results/default-model-lengths.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from openreel.eval.report import EvalItem, aggregate, score_item
from openreel.video.io import read_video
from openreel.world.parse import parse_caption


def summary(items: list[EvalItem], per_clip: bool = False) -> dict:
    report = aggregate(items)
    out = {
        "clips": report.overall.total,
        "pass": report.overall.rate,
        "per_check": {k: round(v.rate, 4) for k, v in report.per_check.items() if v.total},
        "present_share": None if report.present_share is None else round(report.present_share, 4),
        # the strict reading, per object: one blob in 90 % of frames (present); found, but split in two
        "objects_present": report.objects_present.to_dict()["rate"],
        "objects_split": report.objects_split,
    }
    if per_clip:  # for paired comparisons between suites of the same prompts and seeds
        out["present_share_by_clip"] = {i.id: [round(o.checks["present"].value or 0.0, 4) for o in i.score.objects]
                                        for i in items if i.score is not None}
        out["present_by_clip"] = {i.id: [o.checks["present"].passed for o in i.score.objects]
                                  for i in items if i.score is not None}
    return out


def score_folder(folder: Path, window: int) -> dict:
    """One suite folder: the whole clips, each window of `window` frames, and seconds per clip."""
    rows = [json.loads(line) for line in (folder / "metadata.jsonl").read_text(encoding="utf-8").splitlines() if line]
    whole, windows, frames = [], {}, set()
    for row in rows:
        video = read_video(folder / row["video"])
        scene = parse_caption(row["prompt"])
        frames.add(len(video.frames))
        whole.append(score_item(EvalItem(id=row["id"], scene=scene, frames=video.frames, fps=video.fps)))
        for k, start in enumerate(range(0, len(video.frames) - window + 1, window - 1)):
            clip = video.frames[start : start + window]  # (window, H, W, 3)
            windows.setdefault(k, []).append(score_item(EvalItem(id=row["id"], scene=scene, frames=clip,
                                                                 fps=video.fps)))
    return {
        "folder": str(folder),
        "frames": sorted(frames),
        "seconds_per_clip_median": round(statistics.median(r["seconds"] for r in rows), 3),
        "seconds_per_clip_max": round(max(r["seconds"] for r in rows), 3),
        "whole": summary(whole, per_clip=True),
        "windows": {f"frames {k * (window - 1)}-{k * (window - 1) + window - 1}": summary(items)
                    for k, items in windows.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="suite folders written by openreel eval --model")
    parser.add_argument("--window", type=int, default=33, help="frames per window (the training length)")
    parser.add_argument("--out", type=Path, required=True, help="results JSON")
    args = parser.parse_args()
    results = {"window": args.window, "suites": [score_folder(f, args.window) for f in args.folders]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for s in results["suites"]:
        whole = {k: v for k, v in s["whole"].items() if not k.endswith("_by_clip")}
        print(s["folder"], s["frames"], s["seconds_per_clip_median"], "s", json.dumps(whole))
        for name, w in s["windows"].items():
            print("   ", name, json.dumps(w))


if __name__ == "__main__":
    main()
