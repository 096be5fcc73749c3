"""Choose a model's sampling defaults by measurement: held-out pass rates and seconds per clip over a
grid of solver x steps x guidance, each cell on the same prompts and seeds.

    python benchmarks/sampling_defaults.py --model default --count 24 --steps 10,20 --guidance 1,4

Results go to benchmarks/results/sampling-defaults.json; the chosen defaults go into the model's
openreel.json by hand, citing this file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from openreel.eval.report import EvalItem, evaluate
from openreel.eval.suite import generate_suite, heldout_prompts
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
    return {"settings": settings, "pass_rate": report.overall.rate,
            "per_check": {k: round(v.rate, 4) for k, v in report.per_check.items()},
            "seconds_per_clip_median": round(statistics.median(r["seconds"] for r in rows), 3),
            "wall_s": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--solvers", default="unipc")
    parser.add_argument("--steps", default="10,20")
    parser.add_argument("--guidance", default="1,4")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sampling-defaults.json"))
    args = parser.parse_args()
    generator = Generator.from_pretrained(args.model)
    prompts = heldout_prompts(args.count)
    cells = []
    with tempfile.TemporaryDirectory() as tmp:
        for solver in args.solvers.split(","):
            for steps in (int(s) for s in args.steps.split(",")):
                for guidance in (float(g) for g in args.guidance.split(",")):
                    settings = {"solver": solver, "steps": steps, "guidance": guidance}
                    cell = run_cell(generator, prompts, settings, Path(tmp) / f"{solver}-{steps}-{guidance:g}")
                    cells.append(cell)
                    print(f"{solver:9s} steps {steps:3d} guidance {guidance:4.1f}: pass {cell['pass_rate']:.3f} "
                          f"{cell['per_check']}  {cell['seconds_per_clip_median']:.2f} s/clip", flush=True)
    out = {"benchmark": "sampling_defaults", "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": machine(), "model": generator.model.spec.name, "weights_sha256": generator.weights_hash,
           "prompts": args.count, "cells": cells}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
