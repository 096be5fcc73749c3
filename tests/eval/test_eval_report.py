"""Suites and reports: aggregation from any items, Markdown + JSON, failure sheets, the CLI."""

import json

import numpy as np
import pytest

from openreel.cli import main
from openreel.eval.report import EvalItem, Rate, aggregate, evaluate, write_report
from openreel.eval.score import ClipScore, score_clip
from openreel.world.dataset import write_dataset
from openreel.world.parse import parse_caption
from openreel.world.physics import simulate
from openreel.world.render import render
from openreel.world.sampler import SceneDist, sample_scene


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_wilson_interval():
    r = Rate(97, 100)
    lo, hi = r.interval()
    assert lo < 0.97 < hi and hi - lo < 0.1
    assert Rate(0, 10).interval()[0] == 0 and Rate(10, 10).interval()[1] == 1
    assert np.isnan(Rate().rate)


def test_aggregate_mixes_frames_scores_and_errors(tmp_path):
    items = []
    for i in range(6):
        scene = sample_scene(np.random.default_rng([41, i]), SceneDist(size=64))
        frames = render(scene, simulate(scene))
        claim = scene.describe()
        if i == 5:  # a wrong background: one failure
            claim = type(claim)(claim.objects, "white" if scene.background != "white" else "black")
        if i % 2:
            items.append(EvalItem(id=f"c{i}", scene=claim, frames=frames, lang="en"))
        else:  # already scored (e.g. by a generator loop); survives a JSON round trip
            score = ClipScore.from_dict(json.loads(json.dumps(score_clip(frames, claim).to_dict())))
            items.append(EvalItem(id=f"c{i}", scene=claim, score=score, lang="zh"))
    items.append(EvalItem(id="gone", scene=parse_caption("a red ball"), video=str(tmp_path / "missing.mp4")))
    report = evaluate(items, sheets_dir=tmp_path / "sheets")
    assert report.overall.total == 7 and report.overall.passed == 5 and report.errors == 1
    assert report.per_check["background"].passed == report.per_check["background"].total - 1
    assert set(report.per_language) == {"en", "zh", "-"}
    assert sum(r.total for r in report.per_objects.values()) == 7
    assert all("all" in m for m in report.per_motion.values())
    failed = [i for i in report.items if i.sheet]
    assert len(failed) == 1 and failed[0].id == "c5" and (tmp_path / "sheets" / "c5.png").is_file()
    md, js = write_report(report, tmp_path / "r.md")
    text = md.read_text()
    assert "Per motion" in text and "Per language" in text and "c5" in text and "sheets/c5.png" in text
    data = json.loads(js.read_text())
    assert data["overall"]["total"] == 7 and len(data["items"]) == 7
    assert aggregate(report.items).overall.passed == 5  # aggregate alone, on scored items


def test_present_share_gives_partial_credit_for_objects_in_some_frames(tmp_path):
    scene = sample_scene(np.random.default_rng([41, 0]), SceneDist(size=64, objects={1: 1.0}))
    frames = render(scene, simulate(scene))  # (T, H, W, 3)
    whole = evaluate([EvalItem(id="gt", scene=scene.describe(), frames=frames)])
    assert whole.present_share == 1.0
    half = frames.copy()
    half[len(frames) // 2:] = frames[len(frames) // 2:, :1, :1]  # later frames: background colour only
    item = EvalItem(id="half", scene=scene.describe(), frames=half)
    report = evaluate([item])
    assert report.overall.passed == 0 and report.per_check["present"].passed == 0
    assert report.present_share == pytest.approx(16 / 33, abs=0.05)
    md, js = write_report(report, tmp_path / "r.md")
    assert f"Objects drawn: on average a blob of each asked-for object's colour is in {report.present_share:.0%}" \
        in md.read_text()
    assert json.loads(js.read_text())["present_share"] == pytest.approx(report.present_share, abs=1e-4)


def test_strict_present_per_object_counts_an_object_drawn_twice_as_split(tmp_path):
    scene = sample_scene(np.random.default_rng([41, 0]), SceneDist(size=64, objects={1: 1.0}))
    frames = render(scene, simulate(scene))  # (T, H, W, 3)
    obj = (frames != frames[:, :1, :1]).any(-1, keepdims=True)  # (T, H, W, 1): off the background colour
    twin = np.where(np.roll(obj, 32, axis=2), np.roll(frames, 32, axis=2), frames)  # a copy half a frame away
    report = evaluate([EvalItem(id="gt", scene=scene.describe(), frames=frames),
                       EvalItem(id="twin", scene=scene.describe(), frames=twin)])
    assert report.present_share == 1.0  # the lenient reading: the colour is in every frame of both
    assert (report.objects_present.passed, report.objects_present.total, report.objects_split) == (1, 2, 1)
    md, js = write_report(report, tmp_path / "r.md")
    assert "Drawn as one blob in 90 % of the frames (present, per object): 50.0% (1/2" in md.read_text()
    assert "split in two: 1." in md.read_text()
    saved = json.loads(js.read_text())
    assert saved["objects_present"]["passed"] == 1 and saved["objects_split"] == 1


def test_eval_cli_single_video_with_a_prompt(capsys, tmp_path):
    video = tmp_path / "one.mp4"
    code, _, _ = run(
        capsys,
        "world",
        "render",
        "--caption",
        "a small red ball falls and bounces on a black background",
        "--size",
        "96",
        "-o",
        str(video),
    )
    assert code == 0
    code, out, _ = run(
        capsys, "eval", str(video), "--prompt", "a small red ball falls and bounces on a black background"
    )
    assert code == 0 and out.startswith("PASS")
    code, out, _ = run(capsys, "eval", str(video), "--prompt", "一个红色的小球向左移动", "--json")
    data = json.loads(out)
    assert data["passed"] is False and data["lang"] == "zh" and any("motion" in f for f in data["failures"])
    code, out, _ = run(capsys, "eval", str(video))  # the scene embedded by `world render`
    assert out.startswith("PASS")
    code, _, err = run(capsys, "eval", str(video), "--prompt", "a red ball wobbles")
    assert code == 2 and "'wobbles'" in err


def test_eval_cli_suite_writes_markdown_json_and_sheets(capsys, tmp_path):
    data = tmp_path / "data"
    write_dataset(data, 4, seed=3, dist=SceneDist(size=64))
    rows = [json.loads(ln) for ln in (data / "metadata.jsonl").read_text().splitlines()]
    rows[1]["scene"]["objects"][0]["color"] = next(
        c for c in ("red", "blue", "green", "pink") if c not in {o["color"] for o in rows[1]["scene"]["objects"]}
    )
    (tmp_path / "scenes.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = tmp_path / "out" / "report.md"
    code, out, _ = run(
        capsys, "eval", "--videos", str(data), "--scenes", str(tmp_path / "scenes.jsonl"), "--report", str(report)
    )
    assert code == 0 and "clips passed: 75.0% (3/4" in out
    assert report.is_file() and report.with_suffix(".json").is_file()
    assert (tmp_path / "out" / "report-failures" / "000001.png").is_file()
    code, out, _ = run(capsys, "eval", "--videos", str(data), "--against", "captions", "--json")
    result = json.loads(out)
    assert result["overall"]["total"] == 24 and set(result["per_language"]) == {"en", "zh"}
    assert result["overall"]["rate"] == 1.0
