"""Suites: score many (scene, video) items and report pass rates, as Markdown and JSON.

An `EvalItem` is one video to score against one scene description. The video may be a frames
array, a file path, or already scored (a `ClipScore`), so a caller that generates videos in
memory (`openreel eval --model ... --suite heldout`) and one that reads a folder share this.
Rates come with 95 % Wilson intervals, so a reader can tell 97 % of 30 clips from 97 % of 3000.
Failed clips get a contact sheet (PNG) with their failing checks written on it.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from openreel.eval.score import CHECKS, ClipScore, score_clip, split_in_two
from openreel.world.scene import Scene


@dataclass
class EvalItem:
    id: str
    scene: Scene  # the description the video is scored against
    frames: np.ndarray | None = None  # (T, H, W, 3) uint8, or
    video: str | None = None  # a video file, or
    score: ClipScore | None = None  # an existing score
    lang: str | None = None  # language of the caption the video was made from, if any
    fps: float | None = None
    error: str | None = None  # why it could not be scored (a missing or unreadable video)
    sheet: str | None = None  # contact sheet of a failure, relative to the report

    @property
    def passed(self) -> bool:
        return self.score is not None and self.score.passed


def load_frames(item: EvalItem) -> tuple[np.ndarray, float | None]:
    if item.frames is not None:
        return item.frames, item.fps
    from openreel.video.io import read_video

    video = read_video(item.video)
    return video.frames, video.fps or None


def score_item(item: EvalItem) -> EvalItem:
    """Fill in item.score (or item.error); keeps item.frames as given."""
    if item.score is not None or item.error is not None:
        return item
    try:
        frames, fps = load_frames(item)
        item.score = score_clip(frames, item.scene, fps)
    except (FileNotFoundError, ValueError, OSError) as exc:
        item.error = str(exc)
    return item


# -- rates -------------------------------------------------------------------------------------


@dataclass
class Rate:
    passed: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.passed += int(ok)
        self.total += 1

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else float("nan")

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """95 % Wilson score interval."""
        n = self.total
        if n == 0:
            return (float("nan"), float("nan"))
        p = self.passed / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (max(0.0, centre - half), min(1.0, centre + half))

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.interval()
        return {"passed": self.passed, "total": self.total, "rate": _round(self.rate),
                "ci95": [_round(lo), _round(hi)]}

    def cell(self) -> str:
        if not self.total:
            return "-"
        lo, hi = self.interval()
        return f"{self.rate:.1%} ({self.passed}/{self.total}, {lo:.0%}-{hi:.0%})"


def _round(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


@dataclass
class Report:
    items: list[EvalItem]
    overall: Rate = field(default_factory=Rate)
    per_check: dict[str, Rate] = field(default_factory=dict)  # clips where the check passed for all objects
    per_motion: dict[str, dict[str, Rate]] = field(default_factory=dict)  # motion -> "all" / check -> objects
    per_objects: dict[int, Rate] = field(default_factory=dict)  # objects per clip -> clips
    per_language: dict[str, Rate] = field(default_factory=dict)
    errors: int = 0
    # Partial credit for a model in training, whose pass rates sit at 0 long after it starts to draw
    # objects: per asked-for object, the share of frames holding a big-enough blob of its colour
    # (the present check's value, which needs 90 %), averaged over objects; None without objects.
    present_share: float | None = None
    # The strict reading of the same frames, per asked-for object: drawn as one blob in 90 % of them
    # (the present check), and `objects_split`, those found that often but as two same-coloured
    # blobs. A sharper model can raise present_share by drawing more blobs; these do not move then.
    objects_present: Rate = field(default_factory=Rate)
    objects_split: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "per_check": {k: v.to_dict() for k, v in self.per_check.items()},
            "per_motion": {m: {k: v.to_dict() for k, v in d.items()} for m, d in self.per_motion.items()},
            "per_objects": {str(k): v.to_dict() for k, v in sorted(self.per_objects.items())},
            "per_language": {k: v.to_dict() for k, v in self.per_language.items()},
            "errors": self.errors,
            "present_share": None if self.present_share is None else round(self.present_share, 4),
            "objects_present": self.objects_present.to_dict(),
            "objects_split": self.objects_split,
            "items": [_item_dict(i) for i in self.items],
        }


def _item_dict(item: EvalItem) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id, "passed": item.passed, "lang": item.lang, "video": item.video,
                           "scene": item.scene.to_dict()}
    if item.error:
        out["error"] = item.error
    if item.score is not None:
        out["failures"] = item.score.failures()
        out["score"] = item.score.to_dict()
    if item.sheet:
        out["sheet"] = item.sheet
    return out


def aggregate(items: Iterable[EvalItem]) -> Report:
    """Rates over scored items (an item with an error counts as a failed clip)."""
    items = list(items)
    report = Report(items)
    motions: dict[str, dict[str, Rate]] = defaultdict(lambda: defaultdict(Rate))
    shares: list[float] = []
    for item in items:
        ok = item.passed
        report.overall.add(ok)
        report.per_objects.setdefault(len(item.scene.objects), Rate()).add(ok)
        report.per_language.setdefault(item.lang or "-", Rate()).add(ok)
        if item.score is None:
            report.errors += 1
            continue
        for name in CHECKS:
            result = item.score.check_passed(name)
            if result is not None:
                report.per_check.setdefault(name, Rate()).add(result)
        for o in item.score.objects:
            present = o.checks["present"]
            shares.append(present.value or 0.0)
            report.objects_present.add(present.passed)
            report.objects_split += split_in_two(present.passed, present.value)
            motions[o.motion]["all"].add(o.passed)
            for name, check in o.checks.items():
                motions[o.motion][name].add(check.passed)
    report.per_check = {k: report.per_check[k] for k in CHECKS if k in report.per_check}
    report.per_motion = {m: dict(motions[m]) for m in sorted(motions)}
    report.present_share = sum(shares) / len(shares) if shares else None
    return report


def evaluate(items: Iterable[EvalItem], *, sheets_dir: str | os.PathLike | None = None, max_sheets: int = 50,
             progress: Callable[[int], None] | None = None) -> Report:
    """Score every item (in this process), draw contact sheets of failures, aggregate."""
    done = []
    sheets = 0
    for n, item in enumerate(items, 1):
        score_item(item)
        if sheets_dir is not None and item.score is not None and not item.passed and sheets < max_sheets:
            item.sheet = str(write_failure_sheet(item, Path(sheets_dir)))
            sheets += 1
        item.frames = None  # do not hold every clip in memory
        done.append(item)
        if progress:
            progress(n)
    return aggregate(done)


# -- contact sheets ------------------------------------------------------------------------------


def write_failure_sheet(item: EvalItem, folder: Path) -> Path:
    """PNG: 8 frames of the clip under a header naming the description and the failed checks."""
    from PIL import Image, ImageDraw

    from openreel.video.io import contact_sheet, write_png

    frames, _ = load_frames(item)
    sheet = contact_sheet(frames, count=8)
    lines = [f"{item.id}: " + "; ".join(o.label() for o in item.scene.objects)
             + (f" on {item.scene.background}" if item.scene.background else "")]
    lines += [f"  FAIL {f}" for f in item.score.failures()[:6]]
    header = Image.new("RGB", (sheet.shape[1], 14 * len(lines) + 6), (255, 255, 255))
    draw = ImageDraw.Draw(header)
    for k, line in enumerate(lines):
        draw.text((4, 3 + 14 * k), line.encode("ascii", "replace").decode(), fill=(0, 0, 0))
    image = np.concatenate([np.asarray(header), sheet], axis=0)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in item.id)
    return write_png(image, folder / f"{safe}.png")


# -- writing -------------------------------------------------------------------------------------


def render_markdown(report: Report, title: str = "OpenReel shapes-world evaluation", relative_to: Path | None = None,
                    preface: list[str] | None = None) -> str:
    lines = [f"# {title}", ""] + (list(preface) + [""] if preface else [])
    lines.append(f"Clips: {report.overall.total}; passed (every check of every object): "
                 f"**{report.overall.cell()}**" + (f"; {report.errors} could not be scored" if report.errors else ""))
    lines += ["", "Rates are passed/total with a 95 % Wilson interval.", "", "## Per check (clips)", "",
              "| check | pass rate |", "|---|---|"]
    lines += [f"| {k} | {v.cell()} |" for k, v in report.per_check.items()]
    if report.present_share is not None:
        lines += ["", f"Objects drawn: on average a blob of each asked-for object's colour is in "
                      f"{report.present_share:.0%} of the frames (the present check needs 90 %). "
                      f"Drawn as one blob in 90 % of the frames (present, per object): "
                      f"{report.objects_present.cell()}; found that often but split in two: "
                      f"{report.objects_split}."]
    checks = ["all", "present", "shape", "size", "motion", "consistency"]
    lines += ["", "## Per motion (objects)", "", "| motion | " + " | ".join(checks) + " |",
              "|---" * (len(checks) + 1) + "|"]
    for motion, rates in report.per_motion.items():
        lines.append(f"| {motion} | " + " | ".join(_short(rates.get(c)) for c in checks) + " |")
    lines += ["", "## Per object count (clips)", "", "| objects | pass rate |", "|---|---|"]
    lines += [f"| {k} | {v.cell()} |" for k, v in sorted(report.per_objects.items())]
    lines += ["", "## Per language (clips)", "", "| language | pass rate |", "|---|---|"]
    lines += [f"| {k} | {v.cell()} |" for k, v in sorted(report.per_language.items())]
    failed = [i for i in report.items if not i.passed]
    if failed:
        lines += ["", f"## Failures ({len(failed)})", ""]
        for item in failed[:200]:
            what = item.error or "; ".join(item.score.failures())
            sheet = ""
            if item.sheet:
                path = Path(item.sheet)
                shown = os.path.relpath(path, relative_to) if relative_to else str(path)
                sheet = f" ([sheet]({shown}))"
            lines.append(f"- `{item.id}`{' [' + item.lang + ']' if item.lang else ''}: {what}{sheet}")
        if len(failed) > 200:
            lines.append(f"- ... and {len(failed) - 200} more (see the JSON report)")
    return "\n".join(lines) + "\n"


def _short(rate: Rate | None) -> str:
    return "-" if rate is None or not rate.total else f"{rate.rate:.0%} ({rate.passed}/{rate.total})"


def write_report(report: Report, path: str | os.PathLike, title: str = "OpenReel shapes-world evaluation",
                 preface: list[str] | None = None, extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write `path` (Markdown) and the same name with .json; returns both paths.

    `preface` lines go under the title; `extra` keys (e.g. the model and its settings) into the JSON.
    """
    from openreel.video.io import atomic_path

    md = Path(path)
    js = md.with_suffix(".json")
    with atomic_path(md) as tmp:
        tmp.write_text(render_markdown(report, title, md.parent, preface), encoding="utf-8")
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps({**(extra or {}), **report.to_dict()}, indent=1, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    return md, js


def sheets_folder(report_path: str | os.PathLike) -> Path:
    """Where the failure contact sheets of a report go: beside it, '<stem>-failures/'."""
    p = Path(report_path)
    return p.parent / f"{p.stem}-failures"
