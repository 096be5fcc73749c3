"""Generate end to end: Python API and CLI, reproducibility, record, progress and cancellation."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from openreel import __version__
from openreel.errors import Cancelled
from openreel.video.io import read_video
from tests.conftest import TINY


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "openreel", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def invoke(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (fast); returns exit code, stdout, stderr."""
    from openreel.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_cli_generate_writes_playable_mp4_with_record(tmp_path, tiny_folder):
    out = tmp_path / "ball.mp4"
    res = run_cli("generate", "a red ball falls and bounces on a black background", "--model", str(tiny_folder),
                  "--size", "32x32", "--frames", "9", "--steps", "2", "--seed", "3", "--gif", "--sheet", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout and "seed 3" in res.stdout
    video = read_video(out)
    assert video.frames.shape == (9, 32, 32, 3)
    assert video.fps == 16
    assert video.record["settings"]["seed"] == 3
    assert json.loads(out.with_suffix(".json").read_text()) == video.record
    assert out.with_suffix(".gif").stat().st_size > 0 and out.with_suffix(".png").stat().st_size > 0


def test_same_seed_is_bit_identical_and_seed_matters(tiny_generator):
    a = tiny_generator.generate("a blue square moves right", seed=11, **TINY)
    b = tiny_generator.generate("a blue square moves right", seed=11, **TINY)
    c = tiny_generator.generate("a blue square moves right", seed=12, **TINY)
    assert a.frames.dtype == np.uint8 and a.frames.shape == (9, 16, 16, 3)
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)


def test_prompt_changes_the_video(tiny_generator):
    a = tiny_generator.generate("a red ball", seed=0, **TINY)
    b = tiny_generator.generate("a green triangle spins", seed=0, **TINY)
    assert not np.array_equal(a.frames, b.frames)


def test_chinese_prompt_end_to_end(tmp_path, tiny_generator):
    prompt = "黑色背景上，一个蓝色方块向右移动"
    video = tiny_generator.generate(prompt, seed=7, **TINY)
    english = tiny_generator.generate("on a black background a blue square moves right", seed=7, **TINY)
    assert not np.array_equal(video.frames, english.frames)  # the bytes reached the model
    video.save(tmp_path / "cube.mp4")
    assert read_video(tmp_path / "cube.mp4").record["settings"]["prompt"] == prompt
    assert prompt in (tmp_path / "cube.json").read_text(encoding="utf-8")


def test_record_contents(tmp_path, tiny_folder):
    from openreel import Generator

    gen = Generator.from_pretrained(tiny_folder, device="cpu")
    video = gen.generate("a red ball", negative_prompt="blurry", seed=5, guidance=4.0, solver="euler", **TINY)
    video.save(tmp_path / "v.mp4")
    r = json.loads((tmp_path / "v.json").read_text())
    assert r["openreel_version"] == __version__
    s = r["settings"]
    assert (s["prompt"], s["negative_prompt"], s["seed"], s["guidance"], s["solver"]) == (
        "a red ball", "blurry", 5, 4.0, "euler")
    assert (s["width"], s["height"], s["frames"], s["steps"], s["fps"]) == (16, 16, 9, 3, 16.0)
    assert s["shift"] == 3.0 and s["text_len"] == 256 and s["guidance_interval"] == [0.0, 1.0]
    assert r["model"]["id"] == "openreel-tiny-random" and r["model"]["source"] == str(tiny_folder.resolve())
    digest = hashlib.sha256()
    for f in sorted(tiny_folder.rglob("*.safetensors")):
        digest.update(str(f.relative_to(tiny_folder)).encode())
        digest.update(f.read_bytes())
    assert r["model"]["weights_sha256"] == digest.hexdigest()
    assert set(r["timings_s"]) == {"text", "denoise", "decode", "encode", "total"}
    assert all(v > 0 for v in r["timings_s"].values())
    assert r["timings_s"]["total"] == pytest.approx(sum(v for k, v in r["timings_s"].items() if k != "total"))
    assert r["memory"]["peak_bytes"] > 50 * 2**20 and r["memory"]["method"]
    assert r["energy"]["joules"] > 0 and r["energy"]["method"]
    assert r["energy"]["wh_per_video_second"] == pytest.approx(r["energy"]["joules"] / 3600 / (9 / 16))
    assert r["device"]["type"] == "cpu" and r["device"]["dtype"] == "float32"


def test_progress_callback_sees_every_stage_and_step(tiny_generator):
    seen = []
    tiny_generator.generate("a red ball", seed=0, progress=seen.append, **TINY)
    assert [p.stage for p in seen] == ["text", "denoise", "denoise", "denoise", "denoise", "decode"]
    assert [p.step for p in seen if p.stage == "denoise"] == [0, 1, 2, 3]
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 0.9


def test_cancel_stops_between_steps(tiny_generator):
    cancel = threading.Event()
    steps = []

    def progress(p):
        steps.append(p.step)
        if p.step == 2:
            cancel.set()

    with pytest.raises(Cancelled, match="after 2 of 6 steps"):
        tiny_generator.generate("a red ball", seed=0, size="16x16", frames=9, steps=6, progress=progress,
                                cancel=cancel)
    assert max(steps) == 2


def test_guidance_changes_the_video(tiny_generator):
    # w <= 1 runs the conditional branch alone (batch 1), w > 1 the batched guided pair.
    a = tiny_generator.generate("a red ball", seed=0, guidance=1.0, **TINY)
    b = tiny_generator.generate("a red ball", seed=0, guidance=6.0, **TINY)
    assert not np.array_equal(a.frames, b.frames)


def test_guidance_interval_guides_only_inside_it(tiny_generator):
    """Guidance in a limited interval: two passes a step inside it, one (the conditional) outside."""
    passes = []
    hook = tiny_generator.model.transformer.register_forward_hook(lambda *_: passes.append(1))
    args = dict(seed=0, guidance=6.0, shift=1.0, **TINY)  # noise levels 1, 2/3, 1/3
    try:
        full = tiny_generator.generate("a red ball", **args)
        calls_full = len(passes)
        same = tiny_generator.generate("a red ball", guidance_interval=(0.0, 1.0), **args)
        passes.clear()
        early = tiny_generator.generate("a red ball", guidance_interval=(0.5, 1.0), **args)
        calls_early = len(passes)
    finally:
        hook.remove()
    unguided = tiny_generator.generate("a red ball", seed=0, guidance=1.0, shift=1.0, **TINY)
    none_inside = tiny_generator.generate("a red ball", guidance_interval=(0.4, 0.6), **args)
    assert (calls_full, calls_early) == (6, 5)
    assert np.array_equal(full.frames, same.frames) and np.array_equal(unguided.frames, none_inside.frames)
    assert not np.array_equal(early.frames, full.frames) and not np.array_equal(early.frames, unguided.frames)
    assert early.record.settings.guidance_interval == (0.5, 1.0)
    from openreel.sampling.loop import sample_video  # the GPU path (both branches batched) agrees

    batched = sample_video(tiny_generator.model, early.record.settings, batch_cfg=True)
    assert np.abs(batched.astype(int) - sample_video(tiny_generator.model, early.record.settings)).max() <= 1


def test_model_default_guidance_interval(tmp_path, tiny_folder):
    """A model folder's openreel.json may set the interval; a request overrides it."""
    import shutil

    from openreel import Generator

    folder = shutil.copytree(tiny_folder, tmp_path / "m")
    spec = json.loads((folder / "openreel.json").read_text())
    spec["defaults"]["guidance_interval"] = [0.5, 1.0]
    (folder / "openreel.json").write_text(json.dumps(spec))
    gen = Generator.from_pretrained(folder, device="cpu")
    assert gen.resolve("a red ball").guidance_interval == (0.5, 1.0)
    assert gen.resolve("a red ball", guidance_interval=(0, 1)).guidance_interval == (0.0, 1.0)
    from pydantic import ValidationError

    from openreel.models.spec import ModelDefaults

    with pytest.raises(ValidationError, match="0 <= LOW < HIGH <= 1"):
        ModelDefaults(guidance_interval=(1.0, 0.5))


def test_aspect_and_seconds(tiny_generator):
    wide = tiny_generator.resolve("a red ball", aspect="16:9", seconds=0.5)
    tall = tiny_generator.resolve("a red ball", aspect="9:16")
    assert (wide.width, wide.height, wide.frames) == (448, 256, 9)  # the default 256x256's shorter side
    assert (tall.width, tall.height) == (256, 448)
    assert tiny_generator.resolve("a red ball", aspect="4:3").width == 336  # 341.3 to the 16-pixel grid
    v = tiny_generator.generate("a red ball", seed=0, size="32x16", seconds=0.5, steps=1, fps=16)
    assert v.frames.shape == (9, 16, 32, 3)
    assert v.record.settings.seconds == pytest.approx(9 / 16)


def test_batched_and_sequential_guidance_agree(tiny_generator):
    """GPUs run CFG's two branches as one batch, CPUs one after the other: the same video."""
    from openreel.sampling.loop import sample_video

    s = tiny_generator.resolve("a red ball", seed=4, guidance=5.0, size="32x32", frames=9, steps=3)
    batched = sample_video(tiny_generator.model, s, batch_cfg=True)
    sequential = sample_video(tiny_generator.model, s, batch_cfg=False)
    assert np.abs(batched.astype(int) - sequential).max() <= 1
    same = dict(seed=s.seed, guidance=s.guidance, size="32x32", frames=s.frames, steps=s.steps)
    assert np.array_equal(sequential, tiny_generator.generate(s.prompt, **same).frames)  # the CPU default
