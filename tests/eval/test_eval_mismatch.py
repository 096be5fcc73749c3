"""The evaluator fails mismatched (video, description) pairs, and fails them for the right reason."""

import os
import tempfile

import numpy as np
import pytest

from openreel.eval.mismatch import KINDS, make_pair
from openreel.eval.score import score_clip
from openreel.video.io import read_video, write_mp4
from openreel.world.physics import simulate
from openreel.world.render import render
from openreel.world.scene import Scene, SceneObject


def h264(frames, crf=23):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.mp4")
        write_mp4(frames, path, 16, crf=crf)
        return read_video(path).frames


# The check a kind must trip (at least); "present" also covers an object of the wrong colour.
EXPECTED = {
    "wrong_color": {"present", "no_extra"},
    "wrong_shape": {"shape"},
    "wrong_size": {"size"},
    "wrong_direction": {"motion"},
    "no_bounce": {"motion"},
    "reversed_spin": {"motion"},
    "grow_vs_shrink": {"motion"},
    "wrong_motion": {"motion"},
    "wrong_background": {"background"},
    "missing_object": {"present"},
    "extra_object": {"no_extra"},
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_mismatched_pairs_fail(kind):
    n, passed = 20, 0
    for i in range(n):
        pair = make_pair(kind, np.random.default_rng([31, i]), size=96)
        score = score_clip(pair.frames, pair.claim)
        passed += score.passed
        failed = {
            name
            for name in ("present", "shape", "size", "motion", "consistency", "background", "no_extra")
            if score.check_passed(name) is False
        }
        assert score.passed or failed & EXPECTED[kind], (pair.change, score.failures())
    assert passed / n <= 0.05


def test_mismatched_pairs_fail_after_h264():
    for k, kind in enumerate(KINDS):
        for i in range(3):
            pair = make_pair(kind, np.random.default_rng([32, k, i]), size=128)
            assert not score_clip(h264(pair.frames), pair.claim).passed, pair.change


def one(obj, frames=33, bg="black"):
    return Scene((obj,), bg, 128, 128, 16, frames)


def claim(scene, **change):
    o = scene.objects[0]
    fields = {"shape": o.shape, "color": o.color, "size": o.size, "motion": o.motion, **change}
    return Scene((SceneObject(**fields),), scene.background)


def test_still_ball_is_no_bounce():
    scene = one(SceneObject("circle", "red", "small", "still", 0.5, 0.4))
    score = score_clip(render(scene, simulate(scene)), claim(scene, motion="fall_bounce"))
    assert not score.objects[0].checks["motion"].passed and "bounce" in score.objects[0].checks["motion"].detail


def test_floating_ball_without_gravity_is_no_fall():
    scene = one(SceneObject("circle", "red", "small", "bounce_around", 0.5, 0.3, 0.05, 0.39))
    score = score_clip(render(scene, simulate(scene)), claim(scene, motion="fall_bounce"))
    assert not score.passed


def test_reversed_spin_reads_the_sign():
    scene = one(SceneObject("triangle", "green", "medium", "spin_cw", 0.5, 0.5))
    frames = render(scene, simulate(scene))
    assert score_clip(frames, claim(scene)).passed
    bad = score_clip(frames, claim(scene, motion="spin_ccw"))
    assert "+" in bad.objects[0].checks["motion"].detail.split("deg/s")[0] and not bad.passed


def test_spinning_square_is_not_still_and_growing_is_not_still():
    for motion in ("spin_ccw", "grow"):
        scene = one(SceneObject("square", "cyan", "medium", motion, 0.5, 0.5))
        assert not score_clip(render(scene, simulate(scene)), claim(scene, motion="still")).passed


def test_bounce_around_is_not_a_move():
    scene = one(SceneObject("square", "blue", "small", "bounce_around", 0.5, 0.5, 0.4, 0.0), frames=49)
    frames = render(scene, simulate(scene))
    assert score_clip(frames, claim(scene)).passed
    assert not score_clip(frames, claim(scene, motion="move_right")).passed


def test_collide_versus_passing_by():
    pair = Scene(
        (
            SceneObject("circle", "red", "medium", "collide", 0.3, 0.5, 0.3, 0.0),
            SceneObject("square", "blue", "medium", "collide", 0.7, 0.5, -0.3, 0.0),
        ),
        "black",
        128,
        128,
        16,
        33,
    )
    frames = render(pair, simulate(pair))
    assert score_clip(frames, pair.describe()).passed
    # two objects that simply move apart are not a collision
    apart = Scene(
        (
            SceneObject("circle", "red", "medium", "move_left", 0.4, 0.5, -0.3, 0.0),
            SceneObject("square", "blue", "medium", "move_right", 0.6, 0.5, 0.3, 0.0),
        ),
        "black",
        128,
        128,
        16,
        33,
    )
    assert not score_clip(render(apart, simulate(apart)), pair.describe()).passed
