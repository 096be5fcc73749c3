"""Paired comparison of two evaluation reports of the same prompts and seeds.

Two runs that differ in one setting (a sampler option, a checkpoint) and generate the same suite
score the same objects and clips, so each can be compared with itself: how many each run gained
and lost, and an exact two-sided sign test on those discordant pairs (McNemar's exact test).
Pairing is what makes a suite decisive: shift 10 against 3 on 300 held-out prompts drew 85 and 63
of 547 objects as one blob, rates whose 95 % intervals overlap, but 38 gained against 16 lost is
p = 0.004. Colour found (each object's share of frames with its colour) is compared as a mean
paired difference with its standard error. The noise floor to read it against: one suite generated
twice with the same settings differs on a few objects, as every video carries its own watermark
payload.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from openreel.errors import InvalidInput
from openreel.eval.score import OBJECT_CHECKS, split_in_two

CLIP_CHECKS = ("all_present", "background", "no_extra", "passed")


@dataclass
class PairedCount:
    """One check over paired units (objects or clips): passes in each run, and the discordant pairs."""

    base: int = 0
    new: int = 0
    of: int = 0
    gained: int = 0  # passed in the new run only
    lost: int = 0  # passed in the base run only

    def add(self, base: bool, new: bool) -> None:
        self.of += 1
        self.base += base
        self.new += new
        self.gained += new and not base
        self.lost += base and not new

    @property
    def p(self) -> float:
        return sign_test_p(self.gained, self.lost)

    def to_dict(self) -> dict:
        return {**asdict(self), "sign_test_p": float(f"{self.p:.2g}")}


def sign_test_p(gained: int, lost: int) -> float:
    """Exact two-sided sign test: P(a split of gained + lost as uneven or more | no difference)."""
    n, k = gained + lost, min(gained, lost)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def read_report(path: Path, field: str) -> dict:
    """An `openreel eval` JSON report; `field` names the argument in errors."""
    if not path.is_file():
        raise InvalidInput(field, f"no report at {path} (the JSON `openreel eval --report R.md` writes as R.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(field, f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise InvalidInput(field, f"{path} is not an `openreel eval` report (no items)")
    return data


def compare_reports(base: dict, new: dict) -> dict:
    """Per object and per clip: passes in each report, gained, lost, sign-test p; colour found paired."""
    shared, pairs = _paired_items(base, new)
    unscored = shared - len(pairs)
    objects = {check: PairedCount() for check in OBJECT_CHECKS}
    clips = {check: PairedCount() for check in CLIP_CHECKS}
    found_base, found_new = [], []  # colour found per paired object
    split = PairedCount()  # here "passed" means split: gained = split in the new run only
    for a, b in pairs:
        for oa, ob in zip(a["score"]["objects"], b["score"]["objects"]):
            for check in OBJECT_CHECKS:
                objects[check].add(oa["checks"][check]["passed"], ob["checks"][check]["passed"])
            fa, fb = _found(oa), _found(ob)
            found_base.append(fa)
            found_new.append(fb)
            split.add(split_in_two(oa["checks"]["present"]["passed"], fa),
                      split_in_two(ob["checks"]["present"]["passed"], fb))
        clips["all_present"].add(*(all(o["checks"]["present"]["passed"] for o in x["score"]["objects"])
                                   for x in (a, b)))
        for check in ("background", "no_extra"):
            if check in a["score"]["checks"]:
                clips[check].add(a["score"]["checks"][check]["passed"], b["score"]["checks"][check]["passed"])
        clips["passed"].add(a["score"]["passed"], b["score"]["passed"])
    n, diffs = len(found_base), [b - a for a, b in zip(found_base, found_new)]
    return {
        "clips": len(pairs),
        "clips_unscored": unscored,  # failed to score in either run: no pair
        # a run of the same suite with a larger --count holds more clips: only the shared ones are paired
        "clips_in_one_report_only": {"base": len(base["items"]) - shared, "new": len(new["items"]) - shared},
        "objects": n,
        "object_checks": {k: v.to_dict() for k, v in objects.items()},
        "clip_checks": {k: v.to_dict() for k, v in clips.items()},
        "colour_found": {"base": round(statistics.fmean(found_base), 4) if n else None,  # over the paired objects
                         "new": round(statistics.fmean(found_new), 4) if n else None,
                         "mean_difference": round(statistics.fmean(diffs), 4) if n else None,
                         "standard_error": round(statistics.stdev(diffs) / math.sqrt(n), 4) if n > 1 else None},
        "objects_split_in_two": {**split.to_dict(), "note": "gained: split in the new run only (worse)"},
        "seconds_median": {"base": base.get("generation", {}).get("median_s"),  # of each whole report
                           "new": new.get("generation", {}).get("median_s")},
    }


def _paired_items(base: dict, new: dict) -> tuple[int, list[tuple[dict, dict]]]:
    """Items of both reports matched by id: how many ids they share, and the pairs scored in both.

    Runs of one suite with different --count share their first clips; reports with no clip in
    common, or one id holding another scene in each, are not runs of the same prompts."""
    a = {item["id"]: item for item in base["items"]}
    b = {item["id"]: item for item in new["items"]}
    shared = sorted(set(a) & set(b))
    if not shared:
        raise InvalidInput("new", f"the reports share no clip (base {len(a)}, new {len(b)}): "
                                  "compare runs of the same suite")
    for key in shared:
        if a[key]["scene"] != b[key]["scene"]:
            raise InvalidInput("new", f"clip {key} has another scene in each report: not the same prompts")
    # a clip that failed to score in either run has no pair
    return len(shared), [(a[k], b[k]) for k in shared if a[k].get("score") and b[k].get("score")]


def _found(obj: dict) -> float:
    return obj["checks"]["present"]["value"] or 0.0


def format_comparison(result: dict, base_name: str, new_name: str) -> str:
    """A plain-text table of `compare_reports`' result."""
    left_out, one_only = result["clips_unscored"], result["clips_in_one_report_only"]
    notes = [f"{left_out} left out: not scored in both"] if left_out else []
    notes += [f"{n} in {side} only, not compared" for side, n in one_only.items() if n]
    lines = [f"base: {base_name}", f"new:  {new_name}",
             f"{result['clips']} clips, {result['objects']} objects paired"
             + (f" ({'; '.join(notes)})" if notes else ""),
             "",
             f"{'':24s}{'base':>6s}{'new':>6s}{'of':>6s}{'gained':>8s}{'lost':>6s}{'p':>8s}"]
    for title, group in (("object", result["object_checks"]), ("clip", result["clip_checks"])):
        for check, c in group.items():
            if c["of"]:
                lines.append(f"{title + ' ' + check:24s}{c['base']:6d}{c['new']:6d}{c['of']:6d}"
                             f"{c['gained']:8d}{c['lost']:6d}{c['sign_test_p']:8.2g}")
    colour, split = result["colour_found"], result["objects_split_in_two"]
    if colour["mean_difference"] is not None:
        se = "" if colour["standard_error"] is None else f" ± {colour['standard_error'] * 100:.1f}"
        lines.append(f"\ncolour found: {colour['mean_difference'] * 100:+.1f}{se} points per object (new − base)")
    lines.append(f"objects split in two: {split['base']} base, {split['new']} new (in the new run only "
                 f"{split['gained']}, in the base only {split['lost']}; p = {split['sign_test_p']:.2g})")
    seconds = result["seconds_median"]
    if seconds["base"] and seconds["new"]:
        lines.append(f"seconds per clip (median): {seconds['base']:.2f} base, {seconds['new']:.2f} new")
    return "\n".join(lines)
