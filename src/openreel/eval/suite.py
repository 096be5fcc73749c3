"""Generated suites: a model makes one video per held-out prompt, and the evaluator scores each video
against the scene its prompt describes.

The held-out suite draws scenes from `HELDOUT_SEED`, a world stream no training config uses (the
default model's configs train on seeds 1 and 2), with the world's default mix: 1 to 3 objects, every
motion, shape, size and background. Prompts alternate English and Chinese. Scoring is against the
parsed prompt, so what a caption leaves out (a medium size, sometimes the background) is not held
against the video.

The seen suite draws the same way from `SEEN_SEED`, the stream the default model's transformer
trained on (`configs/default/2-t2v.toml`; its first 4000 clips are the shipped model's training
set): scenes it has seen, English captions word for word and Chinese ones in another phrasing.
The gap between the two suites tells a model that has not yet fit its data (both fail) from one
that does not generalise (seen passes, held-out fails).

A suite folder is resumable: `<out>/<id>.mp4` that already exist are kept, so an interrupted run
loses no finished video. A kept video made by other weights or with other settings (size, frames,
steps ...) is an error naming the setting, not a silent mix of two runs.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openreel.errors import InvalidInput

HELDOUT_SEED = 7_000_003
SEEN_SEED = 2  # data.seed of configs/default/2-t2v.toml
SUITES = {"heldout": HELDOUT_SEED, "seen": SEEN_SEED}


@dataclass(frozen=True)
class SuitePrompt:
    id: str
    prompt: str
    lang: str
    seed: int  # the generation seed: fixed per item, so a suite is reproducible


def heldout_prompts(count: int = 300, seed: int = HELDOUT_SEED) -> list[SuitePrompt]:
    """`count` scenes' first captions from world stream `seed`, even items English and odd items Chinese."""
    from openreel.world.dataset import make_sample

    items = []
    for i in range(count):
        sample = make_sample(seed, i, frames=False, n_captions=1)
        lang = "en" if i % 2 == 0 else "zh"
        items.append(SuitePrompt(id=f"{i:04d}", prompt=sample.captions[lang][0], lang=lang, seed=i))
    return items


def suite_prompts(name: str, count: int) -> list[SuitePrompt]:
    if name not in SUITES:
        raise InvalidInput("suite", f"unknown suite {name!r}; suites: {', '.join(SUITES)}")
    if count < 1:
        raise InvalidInput("count", f"must be at least 1, got {count}")
    return heldout_prompts(count, seed=SUITES[name])


def generate_suite(generator, prompts: list[SuitePrompt], out: Path, settings: dict,
                   progress: Callable[[int, int], None] | None = None) -> Path:
    """Generate every prompt's video into `out` (skipping ones already there); returns metadata.jsonl.

    Each row: id, video, prompt, lang, captions ({lang: [prompt]}, the dataset format), seed, seconds
    (generation time, encode included).
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, item in enumerate(prompts):
        video, record = out / f"{item.id}.mp4", out / f"{item.id}.json"
        if video.is_file() and record.is_file():
            check_kept(record, generator, generator.resolve(item.prompt, seed=item.seed, **settings))
        else:
            result = generator.generate(item.prompt, seed=item.seed, **settings)
            result.save(video)
        seconds = json.loads(record.read_text(encoding="utf-8"))["timings_s"]["total"]
        rows.append({"id": item.id, "video": video.name, "prompt": item.prompt, "lang": item.lang,
                     "captions": {item.lang: [item.prompt]},
                     "seed": item.seed, "seconds": seconds})
        if progress:
            progress(n + 1, len(prompts))
    meta = out / "metadata.jsonl"
    meta.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return meta


KEPT_SETTINGS = ("width", "height", "frames", "fps", "steps", "guidance", "solver", "shift", "negative_prompt",
                 "guidance_interval")


def check_kept(record: Path, generator, wanted) -> None:
    """A video kept from an earlier run must come from the same weights and settings as this run's."""
    from pydantic import ValidationError

    from openreel.request import Settings
    from openreel.sampling.loop import attention_scale

    made = json.loads(record.read_text(encoding="utf-8"))
    try:
        settings = Settings.model_validate(made["settings"])  # types and defaults as this version has them
    except (ValidationError, KeyError):
        raise InvalidInput("out", f"{record} is not a generation record this version reads: "
                                  "give another --out") from None
    had = {"weights": made["model"]["weights_sha256"], "attention_scale": made.get("attention_scale", 1.0),
           **{k: getattr(settings, k) for k in KEPT_SETTINGS}}
    want = {"weights": generator.weights_hash, "attention_scale": attention_scale(generator.model, wanted),
            **{k: getattr(wanted, k) for k in KEPT_SETTINGS}}
    for key in had:
        if had[key] != want[key]:
            raise InvalidInput("out", f"{record.with_suffix('.mp4')} was made with {key}={had[key]!r}, this run "
                                      f"asks for {want[key]!r}: give another --out (or remove that folder)")


def timing_summary(meta: Path) -> dict:
    """Median and maximum seconds per video over a generated suite."""
    seconds = [json.loads(line)["seconds"] for line in meta.read_text(encoding="utf-8").splitlines() if line]
    return {"videos": len(seconds), "median_s": statistics.median(seconds), "max_s": max(seconds)}
