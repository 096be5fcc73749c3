"""`openreel world ...` as a user runs it (through openreel.cli.main: exit codes and messages)."""

import json

import pytest

from openreel.cli import main
from openreel.video.io import read_video


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_sample_prints_scene_json_and_chinese_captions(capsys):
    code, out, _ = run(capsys, "world", "sample", "--seed", "3", "--lang", "zh")
    assert code == 0
    scene_text, caps = out.split("\ncaptions (zh):\n")
    scene = json.loads(scene_text)
    assert scene["fps"] == 16 and scene["frames"] == 33 and scene["objects"]
    lines = [ln.strip() for ln in caps.strip().splitlines()]
    assert len(lines) == 3 and all(any("\u4e00" <= ch <= "\u9fff" for ch in ln) for ln in lines)
    code, out2, _ = run(capsys, "world", "sample", "--seed", "3", "--json")
    data = json.loads(out2)
    assert data["scene"] == scene and set(data["captions"]) == {"en", "zh"}


def test_render_one_clip_from_a_scene_file_and_from_a_caption(capsys, tmp_path):
    scene = {
        "background": "white",
        "objects": [{"shape": "triangle", "color": "purple", "size": "large", "motion": "spin_cw"}],
    }
    (tmp_path / "scene.json").write_text(json.dumps(scene))
    code, out, _ = run(
        capsys,
        "world",
        "render",
        "--scene",
        str(tmp_path / "scene.json"),
        "-o",
        str(tmp_path / "one.mp4"),
        "--size",
        "64",
    )
    assert code == 0 and "wrote" in out
    video = read_video(tmp_path / "one.mp4")
    assert video.frames.shape == (33, 64, 64, 3)
    assert json.loads(video.metadata["openreel_world_scene"])["objects"][0]["motion"] == "spin_cw"
    code, _, err = run(
        capsys, "world", "render", "--scene", str(tmp_path / "scene.json"), "-o", str(tmp_path / "one.mp4")
    )
    assert code == 2 and "--force" in err
    code, out, _ = run(
        capsys,
        "world",
        "render",
        "--caption",
        "一个红色的小球落下并弹起",
        "--size",
        "64",
        "--aspect",
        "16:9",
        "-o",
        str(tmp_path / "ball.mp4"),
    )
    assert code == 0 and read_video(tmp_path / "ball.mp4").frames.shape == (33, 64, 114, 3)


def test_render_dataset_and_refuse_overwrite(capsys, tmp_path):
    out_dir = tmp_path / "ds"
    code, out, _ = run(
        capsys,
        "world",
        "render",
        "--count",
        "3",
        "--size",
        "64",
        "--seconds",
        "1",
        "--out",
        str(out_dir),
        "--holdout",
        "purple triangle + spin",
        "--motions",
        "spin,still",
    )
    assert code == 0 and "wrote 3 clips" in out
    rows = [json.loads(ln) for ln in (out_dir / "metadata.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(r["scene"]["frames"] == 17 for r in rows)
    code, _, err = run(capsys, "world", "render", "--count", "3", "--size", "64", "--out", str(out_dir))
    assert code == 2 and "already exists" in err


@pytest.mark.parametrize(
    "args,field",
    [
        (("world", "render", "--caption", "a red ball jumps", "-o", "x.mp4"), "'jumps'"),
        (("world", "render", "--count", "2", "--out", "x", "--objects", "4"), "objects"),
        (("world", "sample", "--motions", "wiggle"), "wiggle"),
        (("world", "render", "--count", "2", "--out", "x", "--crf", "30"), "CRF"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(capsys, tmp_path, monkeypatch, args, field):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *args)
    assert code == 2 and field in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command", [("world",), ("world", "sample"), ("world", "render"), ("world", "vocab"), ("eval",)]
)
def test_help_has_examples(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "Examples:" in out and "openreel" in out.split("Examples:")[1]


def test_vocab_lists_both_languages(capsys):
    code, out, _ = run(capsys, "world", "vocab", "--json")
    data = json.loads(out)
    assert "球" in data["zh"]["shape"]["circle"] and "ball" in data["en"]["shape"]["circle"]
