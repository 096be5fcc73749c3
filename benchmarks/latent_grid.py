"""What a finer latent grid costs: the default model at 128x128 (16x VAE), its `openreel model refine`
copy at 128x128 (8x VAE, 1x2x2 transformer patches: the same 576 tokens) and the default model at
256x256 (16x VAE, 4x the tokens), end to end at the default settings.

Speed does not depend on the weights, so the refined copy is built from the shipped weights here.
Runs alternate after one warm-up each; medians and each arm's stage times go to
benchmarks/results/latent-grid.json. Why it matters (the shape each keeps): MODEL_CARD.md.

    python benchmarks/latent_grid.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from openreel import Generator
from openreel.generator import DEFAULT_MODEL_DIR
from openreel.models import load_model, save_model
from openreel.models.vae_rebuild import refine_model

try:
    from generate import PROMPT, machine
except ImportError:
    from benchmarks.generate import PROMPT, machine


def refined(folder: Path) -> Path:
    return save_model(refine_model(load_model(DEFAULT_MODEL_DIR)), folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "latent-grid.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shipped, fine = Generator.from_pretrained("default"), Generator.from_pretrained(refined(Path(tmp) / "fine"))
        arms = {"16x VAE at 128x128 (shipped)": (shipped, "128x128"),
                "8x VAE at 128x128 (refined, 1x2x2 patches)": (fine, "128x128"),
                "16x VAE at 256x256": (shipped, "256x256")}
        runs = {name: [] for name in arms}
        for repeat in range(args.repeats + 1):  # the first round warms up and is not kept
            for name, (generator, size) in arms.items():
                record = generator.generate(PROMPT, seed=0, size=size).record
                if repeat:
                    runs[name].append(record.timings_s)
    results = {}
    for name, timings in runs.items():
        results[name] = {"median_s": {stage: round(statistics.median(t[stage] for t in timings), 3)
                                      for stage in timings[0]}, "runs": timings}
        print(f"{name:44s} {results[name]['median_s']}")
    out = {"benchmark": "latent_grid", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": machine(), "prompt": PROMPT, "settings": "the default model's defaults (33 frames)",
           "repeats": args.repeats, "results": results}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
