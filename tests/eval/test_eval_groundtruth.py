"""The evaluator passes the renderer's own clips: raw, after H.264 CRF 23, at 128^2 and 64^2,
other aspect ratios and durations, and when scored against parsed captions (spec section 7)."""

import os
import tempfile

import numpy as np
import pytest

from openreel.eval.score import score_clip
from openreel.video.io import read_video, write_mp4
from openreel.world.captions import captions
from openreel.world.parse import parse_caption
from openreel.world.physics import simulate
from openreel.world.render import render
from openreel.world.sampler import SceneDist, sample_scene
from openreel.world.scene import Scene, SceneObject


def h264(frames, crf=23):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.mp4")
        write_mp4(frames, path, 16, crf=crf)
        return read_video(path).frames


def pass_rate(n, seed, dist, crf=None, verbose=True):
    failures = []
    for i in range(n):
        scene = sample_scene(np.random.default_rng([seed, i]), dist)
        frames = render(scene, simulate(scene))
        if crf is not None:
            frames = h264(frames, crf)
        score = score_clip(frames, scene.describe())
        if not score.passed:
            failures.append((i, [o.label() for o in scene.objects], score.failures()))
    if verbose and failures:
        print(failures)
    return 1 - len(failures) / n


# >= 99 %: with these sample sizes, every clip must pass.
def test_ground_truth_raw_128():
    assert pass_rate(60, 1, SceneDist(size=128)) >= 0.99


def test_ground_truth_h264_crf23_128():
    assert pass_rate(60, 2, SceneDist(size=128), crf=23) >= 0.99


def test_ground_truth_raw_64():
    assert pass_rate(60, 3, SceneDist(size=64)) >= 0.99


def test_ground_truth_other_aspects_and_durations():
    dist = SceneDist(size=96, aspects={"16:9": 1, "9:16": 1}, seconds={1.0: 1, 3.0: 1, 5.0: 1})
    assert pass_rate(30, 4, dist) >= 0.99


def test_ground_truth_against_parsed_captions_both_languages():
    for i in range(16):
        scene = sample_scene(np.random.default_rng([5, i]), SceneDist(size=96))
        frames = render(scene, simulate(scene))
        for lang in ("en", "zh"):
            text = captions(scene, np.random.default_rng([6, i]), lang, 1)[0]
            score = score_clip(frames, parse_caption(text))
            assert score.passed, (text, score.failures())
            assert ("background" in score.checks) == (parse_caption(text).background is not None)


def test_hard_cases_touching_resting_and_walls():
    """Colliding objects touch; a ball comes to rest on the floor; a box stops against a wall."""
    collide = Scene(
        (
            SceneObject("circle", "red", "large", "collide", 0.3, 0.6, 0.3, 0.0),
            SceneObject("triangle", "orange", "large", "collide", 0.72, 0.6, -0.3, 0.0),
        ),
        "white",
        128,
        128,
        16,
        33,
    )
    rest = Scene((SceneObject("square", "yellow", "small", "fall_bounce", 0.5, 0.6),), "white", 128, 128, 16, 81)
    wall = Scene(
        (
            SceneObject("square", "blue", "medium", "move_left", 0.3, 0.3, -0.3, 0.0),
            SceneObject("triangle", "pink", "small", "move_down", 0.8, 0.5, 0.0, 0.36),
        ),
        "navy",
        128,
        128,
        16,
        49,
    )
    for scene in (collide, rest, wall):
        frames = render(scene, simulate(scene))
        for f in (frames, h264(frames)):
            score = score_clip(f, scene.describe())
            assert score.passed, score.failures()


def test_frames_must_be_at_least_64_pixels():
    with pytest.raises(ValueError, match="64"):
        score_clip(np.zeros((9, 48, 48, 3), np.uint8), parse_caption("a red ball"))
