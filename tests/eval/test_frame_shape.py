"""Per-frame shape reading of reconstructions (openreel.eval.frame_shape): exact on the renderer's
own frames, objects drawn as circles read as circles, an emptied frame reads as missing."""

import dataclasses

import numpy as np
import pytest

from openreel.eval.frame_shape import MISSING, frame_shapes, shape_accuracy
from openreel.world.render import render_scene
from openreel.world.sampler import SceneDist, sample_scene


def clips(n=6, realized=False):
    """n 1 s world clips at 128x128 and their scenes (as captions describe them, unless realized)."""
    dist = SceneDist(size=128, seconds={1.0: 1.0})
    for i in range(n):
        scene = sample_scene(np.random.default_rng([11, i]), dist)
        yield render_scene(scene), scene if realized else scene.describe()


def as_circles(scene):
    """The same scene, trajectories and all, with every object drawn as a circle."""
    return dataclasses.replace(scene, objects=tuple(dataclasses.replace(o, shape="circle") for o in scene.objects))


def test_the_originals_read_as_their_own_shapes_in_every_whole_frame():
    rows = [r for frames, scene in clips() for r in frame_shapes(frames, frames, scene)]
    acc = shape_accuracy(rows)
    assert acc["object_frames"] > 100  # 6 clips x 17 frames x 1-3 objects, less edge and overlap frames
    assert acc["correct"] == 1.0
    assert set(acc["by_shape"]) == {"circle", "square", "triangle"}
    assert acc["wrong"] == {}


def test_objects_drawn_as_circles_read_as_circles():
    rows = []
    for frames, scene in clips(realized=True):
        rows += frame_shapes(frames, render_scene(as_circles(scene)), scene.describe())
    acc = shape_accuracy(rows)
    assert acc["by_shape"]["circle"] == 1.0
    assert acc["by_shape"]["square"] == acc["by_shape"]["triangle"] == 0.0
    assert set(acc["wrong"]) == {"square->circle", "triangle->circle"}
    assert 0 < acc["correct"] < 1


def test_an_empty_reconstruction_reads_as_missing_and_mismatched_frames_are_refused():
    frames, scene = next(clips(1))
    background = np.broadcast_to(np.median(frames.reshape(-1, 3), axis=0).astype(np.uint8), frames.shape).copy()
    rows = frame_shapes(frames, background, scene)
    assert rows and all(r.got == MISSING for r in rows)
    assert shape_accuracy(rows)["correct"] == 0.0
    with pytest.raises(ValueError, match="differ"):
        frame_shapes(frames, frames[:-1], scene)
