"""Choose a model's sampling defaults by measurement: held-out pass rates and seconds per clip over a
grid of solver x steps x guidance, each cell on the same prompts and seeds.

    python benchmarks/sampling_defaults.py --model default --count 24 --steps 10,20 --guidance 1,4 --shifts 3,5
    python benchmarks/sampling_defaults.py --suite seen --count 100 --steps 10 --guidance 5 --shifts 1.5,3,6 \
        --out runs/seen-shift.json   # choose on scenes the model trained on, confirm on held-out ones
    python benchmarks/sampling_defaults.py --suite seen --count 100 --steps 10 --guidance 5,7 \
        --intervals 0:1,0.8:1 --out runs/seen-interval.json   # guidance only at noise levels 0.8 to 1
    python benchmarks/sampling_defaults.py --suite seen --count 100 --steps 10 --guidance 5 --shifts 3,10 \
        --keep runs/cells && openreel compare runs/cells/unipc-10-5-3/eval.json runs/cells/unipc-10-5-10/eval.json

Results go to benchmarks/results/sampling-defaults.json; the chosen defaults go into the model's
openreel.json by hand, citing this file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from openreel.eval.report import EvalItem, evaluate, write_report
from openreel.eval.suite import SUITES, generate_suite, suite_prompts
from openreel.generator import Generator
from openreel.world.parse import parse_caption

try:
    from generate import machine
except ImportError:
    from benchmarks.generate import machine


def run_cell(generator, prompts, settings: dict, folder: Path) -> dict:
    start = time.perf_counter()
    meta = generate_suite(generator, prompts, folder, settings)
    rows = [json.loads(line) for line in meta.read_text(encoding="utf-8").splitlines()]
    items = [EvalItem(id=r["id"], scene=parse_caption(r["prompt"]), video=str(folder / r["video"]), lang=r["lang"])
             for r in rows]
    report = evaluate(items)
    seconds = statistics.median(r["seconds"] for r in rows)
    # each cell's report beside its videos: with --keep, `openreel compare` pairs any two cells
    write_report(report, folder / "eval.md", preface=[f"sampling_defaults cell: {settings}"],
                 extra={"generation": {"settings": settings, "median_s": seconds}})
    # present_share moves long before pass rates leave 0: it is the objects' share of frames found
    share = None if report.present_share is None else round(report.present_share, 4)
    return {"settings": settings, "pass_rate": report.overall.rate, "present_share": share,
            # the strict reading: objects drawn as one blob in 90 % of frames, and those split in two
            "objects_present": report.objects_present.to_dict()["rate"],
            "objects_split": report.objects_split,
            "per_check": {k: round(v.rate, 4) for k, v in report.per_check.items()},
            "seconds_per_clip_median": round(seconds, 3),
            "wall_s": round(time.perf_counter() - start, 1)}


def parse_interval(text: str) -> list[float]:
    """"0.8:1" -> [0.8, 1.0]: the noise levels where guidance applies."""
    try:
        low, high = (float(x) for x in text.split(":"))
    except ValueError:
        raise SystemExit(f"--intervals: {text!r} is not LOW:HIGH, e.g. 0.8:1") from None
    return [low, high]


def label(value) -> str:
    """A setting as part of a cell's folder name: 5.0 -> 5, [0.8, 1.0] -> 0.8_1."""
    if isinstance(value, list):
        return "_".join(f"{x:g}" for x in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def previous_cells(path: Path, weights_sha256: str, suite: str, count: int) -> list[dict]:
    """Cells of an earlier run on the same weights and prompts, so one grid can be measured in several runs."""
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    if data.get("weights_sha256") != weights_sha256:
        raise SystemExit(f"--append: {path} holds cells of other weights; use another --out")
    had = (data.get("suite", "heldout"), data.get("prompts"))
    if had != (suite, count):
        raise SystemExit(f"--append: {path} holds cells of {had[1]} {had[0]} prompts, not {count} {suite}; "
                         "use another --out")
    return data["cells"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--suite", choices=sorted(SUITES), default="heldout",
                        help="prompts: held-out scenes, or scenes the model trained on (to choose without peeking)")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--solvers", default="unipc")
    parser.add_argument("--steps", default="10,20")
    parser.add_argument("--guidance", default="1,4")
    parser.add_argument("--size", default=None, help="WIDTHxHEIGHT (default: the model's own)")
    parser.add_argument("--shifts", default="", help="timestep shifts to try (default: the model's own)")
    parser.add_argument("--intervals", default="",
                        help="guidance intervals to try, LOW:HIGH noise levels, e.g. 0:1,0.8:1 (default: the model's)")
    parser.add_argument("--keep", default=None,
                        help="keep each cell's videos and eval.json in this folder (default: a temporary one)")
    parser.add_argument("--append", action="store_true",
                        help="keep the cells already in --out (same model weights) and add these")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sampling-defaults.json"))
    args = parser.parse_args()
    generator = Generator.from_pretrained(args.model)
    prompts = suite_prompts(args.suite, args.count)
    cells = previous_cells(Path(args.out), generator.weights_hash, args.suite, args.count) if args.append else []
    with tempfile.TemporaryDirectory() as tmp:
        cells_dir = Path(args.keep) if args.keep else Path(tmp)
        shifts = [float(x) for x in args.shifts.split(",")] if args.shifts else [None]
        intervals = [parse_interval(i) for i in args.intervals.split(",")] if args.intervals else [None]
        grid = itertools.product(args.solvers.split(","), [int(s) for s in args.steps.split(",")],
                                 [float(g) for g in args.guidance.split(",")], shifts, intervals)
        for solver, steps, guidance, shift, interval in grid:
            settings = {"solver": solver, "steps": steps, "guidance": guidance}
            if shift is not None:
                settings["shift"] = shift
            if interval is not None:
                settings["guidance_interval"] = interval
            name = "-".join(label(v) for v in settings.values())
            if args.size:
                settings["size"] = args.size
            cell = run_cell(generator, prompts, settings, cells_dir / name)
            cells.append(cell)
            print(f"{name:24s}: pass {cell['pass_rate']:.3f} objects found {cell['present_share']} "
                  f"one blob {cell['objects_present']} split {cell['objects_split']} "
                  f"{cell['per_check']}  {cell['seconds_per_clip_median']:.2f} s/clip", flush=True)
            # rewritten after every cell: a long grid that is stopped keeps what it measured
            out = {"benchmark": "sampling_defaults", "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "machine": machine(), "model": generator.model.spec.name,
                   "weights_sha256": generator.weights_hash, "model_defaults": generator.model.defaults.model_dump(),
                   "suite": args.suite, "prompts": args.count, "cells": cells}
            Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
