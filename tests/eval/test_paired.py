"""Paired comparison of two reports: gains, losses and the sign test, through the API and the CLI."""

import json

import numpy as np
import pytest

from openreel.errors import InvalidInput
from openreel.eval.paired import compare_reports, sign_test_p
from openreel.eval.report import EvalItem, evaluate, write_report
from openreel.world.physics import simulate
from openreel.world.render import render
from openreel.world.sampler import SceneDist, sample_scene
from tests.eval.test_eval_report import run


def test_sign_test_is_exact():
    assert sign_test_p(0, 5) == pytest.approx(2 / 32)
    assert sign_test_p(5, 0) == sign_test_p(0, 5)
    assert sign_test_p(3, 3) == 1.0 and sign_test_p(0, 0) == 1.0
    assert sign_test_p(1, 6) == pytest.approx(2 * (1 + 7) / 2**7)  # 2·P(X <= 1), X ~ Binomial(7, 1/2)
    assert sign_test_p(38, 16) == pytest.approx(0.0038, abs=1e-4)  # shift 10 vs 3 on 300 held-out prompts


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Base: four ground-truth clips. New: the same, but the last clip drawn as empty background."""
    folder = tmp_path_factory.mktemp("paired")
    base, new = [], []
    for i in range(4):
        scene = sample_scene(np.random.default_rng([7, i]), SceneDist(size=64))
        frames = render(scene, simulate(scene))
        claim = scene.describe()
        base.append(EvalItem(id=f"c{i}", scene=claim, frames=frames, lang="en"))
        if i == 3:
            frames = np.broadcast_to(frames[:, :1, :1], frames.shape).copy()  # every pixel the corner's colour
        new.append(EvalItem(id=f"c{i}", scene=claim, frames=frames, lang="en"))
    paths = []
    for name, items in (("base", base), ("new", new)):
        _, js = write_report(evaluate(items), folder / name / "eval.md")
        paths.append(js)
    return paths, len(base[3].scene.objects), sum(len(item.scene.objects) for item in base)


def test_losses_are_counted_per_object_and_clip(reports):
    (base_path, new_path), emptied, objects = reports
    base, new = (json.loads(p.read_text()) for p in (base_path, new_path))
    result = compare_reports(base, new)
    assert result["clips"] == 4 and result["objects"] == objects
    present = result["object_checks"]["present"]
    assert (present["base"], present["new"], present["gained"], present["lost"]) == (
        objects, objects - emptied, 0, emptied)
    passed = result["clip_checks"]["passed"]
    assert (passed["base"], passed["new"], passed["lost"]) == (4, 3, 1)
    assert result["colour_found"]["mean_difference"] < 0
    flipped = compare_reports(new, base)  # the other way round, gains and losses swap
    assert flipped["object_checks"]["present"]["gained"] == emptied
    assert flipped["object_checks"]["present"]["lost"] == 0


def test_a_shorter_run_is_paired_on_the_clips_both_hold(reports):
    (base_path, new_path), _, _ = reports
    base, new = (json.loads(p.read_text()) for p in (base_path, new_path))
    fewer = dict(new, items=new["items"][:3])  # the same suite, a smaller --count: the emptied clip is not in it
    result = compare_reports(base, fewer)
    assert result["clips"] == 3 and result["clips_in_one_report_only"] == {"base": 1, "new": 0}
    assert result["object_checks"]["present"]["lost"] == 0 and result["clip_checks"]["passed"]["of"] == 3
    # colour found is read over the paired objects, not the whole reports
    assert result["colour_found"]["base"] == result["colour_found"]["new"] == 1.0
    assert new["present_share"] < 1.0  # the whole new report counts the emptied clip


def test_reports_of_other_prompts_are_refused(reports):
    (base_path, _), _, _ = reports
    base = json.loads(base_path.read_text())
    with pytest.raises(InvalidInput, match="share no clip"):
        compare_reports(base, dict(base, items=[dict(i, id="x" + i["id"]) for i in base["items"]]))
    other = dict(base, items=[dict(base["items"][0], scene={"objects": []}), *base["items"][1:]])
    with pytest.raises(InvalidInput, match="clip c0 has another scene"):
        compare_reports(base, other)


def test_compare_cli(capsys, reports, tmp_path):
    (base_path, new_path), emptied, _ = reports
    code, out, _ = run(capsys, "compare", str(base_path), str(new_path), "--out", str(tmp_path / "c.json"))
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("object present"))
    assert row.split()[-2:] == [str(emptied), f"{sign_test_p(0, emptied):.2g}"]
    assert json.loads((tmp_path / "c.json").read_text())["clip_checks"]["passed"]["lost"] == 1
    assert "objects split in two: 0 base, 0 new (in the new run only 0, in the base only 0; p = 1)" in out
    fewer = tmp_path / "fewer.json"
    new = json.loads(new_path.read_text())
    fewer.write_text(json.dumps(dict(new, items=new["items"][:3])))
    code, out, _ = run(capsys, "compare", str(base_path), str(fewer))
    assert code == 0 and "3 clips" in out and "(1 in base only, not compared)" in out
    code, _, err = run(capsys, "compare", str(base_path), str(tmp_path / "none.json"))
    assert code == 2 and "error: new: no report at" in err


def test_objects_split_in_two_are_paired(reports):
    (base_path, _), _, _ = reports
    base = json.loads(base_path.read_text())

    def split(item: dict) -> dict:  # every object's colour in every frame, but never as one blob
        objects = [dict(o, checks=dict(o["checks"], present={"passed": False, "value": 1.0}))
                   for o in item["score"]["objects"]]
        return dict(item, score=dict(item["score"], objects=objects))

    new = dict(base, items=[split(base["items"][0]), *base["items"][1:]])
    result = compare_reports(base, new)["objects_split_in_two"]
    n = len(base["items"][0]["score"]["objects"])
    assert (result["base"], result["new"], result["gained"], result["lost"]) == (0, n, n, 0)
    assert result["sign_test_p"] == float(f"{sign_test_p(n, 0):.2g}")
