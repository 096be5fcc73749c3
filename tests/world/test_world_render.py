"""Renderer: deterministic, exact colours inside, anti-aliased edges, right areas, any aspect."""

import math

import numpy as np
import pytest

from openreel.world import vocab
from openreel.world.physics import simulate
from openreel.world.render import render, render_scene
from openreel.world.sampler import SceneDist, sample_scene
from openreel.world.scene import Scene, SceneObject


def still(shape, color="red", size="large", x=0.5, y=0.5, angle=0.0, w=128, h=128, bg="black"):
    return Scene((SceneObject(shape, color, size, "still", x, y, angle=angle),), bg, w, h, 16, 3)


def coverage(frames, bg, color):
    """Per-pixel coverage recovered from a rendered frame (one object over a plain background)."""
    d = np.array(color, float) - np.array(bg, float)
    return ((frames.astype(float) - bg) @ d) / (d @ d)


def test_render_is_deterministic_for_a_seed():
    dist = SceneDist(size=96, objects={3: 1})
    a = [render_scene(sample_scene(np.random.default_rng([9, i]), dist)) for i in range(5)]
    b = [render_scene(sample_scene(np.random.default_rng([9, i]), dist)) for i in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[0].dtype == np.uint8 and a[0].shape == (33, 96, 96, 3)


@pytest.mark.parametrize("shape", vocab.SHAPES)
@pytest.mark.parametrize("bg", ["black", "white", "navy"])
def test_interior_is_the_exact_palette_colour_and_edges_are_anti_aliased(shape, bg):
    frames = render_scene(still(shape, "orange", bg=bg))
    assert tuple(frames[0, 64, 64]) == vocab.COLORS["orange"]  # centre
    assert tuple(frames[0, 2, 2]) == vocab.BACKGROUNDS[bg]  # far corner
    cov = coverage(frames[0], vocab.BACKGROUNDS[bg], vocab.COLORS["orange"])
    edge = (cov > 0.05) & (cov < 0.95)
    assert edge.sum() > 20  # a ring of partial pixels, not a jagged binary edge


@pytest.mark.parametrize("shape", vocab.SHAPES)
@pytest.mark.parametrize("angle", [0.0, 17.0, 45.0])
def test_rendered_area_matches_the_shape(shape, angle):
    frames = render_scene(still(shape, angle=angle, x=0.503, y=0.497, w=200, h=200))
    area = coverage(frames[0], (0, 0, 0), vocab.COLORS["red"]).sum()
    r = 0.15 * 200
    assert area == pytest.approx(vocab.SHAPE_AREA[shape] * r * r, rel=0.01)


def test_aspect_ratios_keep_shapes_round_and_sizes_relative_to_the_shorter_side():
    for w, h in ((228, 128), (128, 228)):
        frames = render_scene(still("circle", w=w, h=h))
        assert frames.shape == (3, h, w, 3)
        cov = coverage(frames[0], (0, 0, 0), vocab.COLORS["red"])
        assert cov.sum() == pytest.approx(math.pi * (0.15 * 128) ** 2, rel=0.01)
        ys, xs = np.nonzero(cov > 0.5)
        assert np.ptp(xs) == pytest.approx(np.ptp(ys), abs=1)  # round, not stretched


def test_square_and_triangle_orientation():
    tri = render_scene(still("triangle", w=128, h=128))[0]
    cov = coverage(tri, (0, 0, 0), vocab.COLORS["red"])
    rows = cov.sum(axis=1)
    top, bottom = np.nonzero(rows > 0.5)[0][[0, -1]]
    assert rows[bottom - 1] > rows[top + 1] * 5  # apex up, base down at angle 0
    assert top == pytest.approx(64 - 0.15 * 128, abs=1) and bottom == pytest.approx(64 + 0.075 * 128, abs=1)
    sq = coverage(render_scene(still("square", angle=45.0))[0], (0, 0, 0), vocab.COLORS["red"])
    width = np.ptp(np.nonzero(sq[64] > 0.5)[0])
    assert width == pytest.approx(2 * 0.15 * 128, abs=2)  # a diamond: corner to corner across


def test_render_at_another_size_of_the_same_aspect():
    scene = sample_scene(np.random.default_rng(1), SceneDist(size=128))
    traj = simulate(scene)
    assert render(scene, traj, 64, 64).shape == (33, 64, 64, 3)
    with pytest.raises(ValueError):
        render(scene, traj, 128, 64)


def test_spin_and_grow_show_in_the_pixels():
    spin = Scene((SceneObject("square", "blue", "large", "spin_cw", 0.5, 0.5),), "white", 128, 128, 16, 5)
    frames = render_scene(spin)  # 180 deg/s: 11.25 deg per frame
    assert not np.array_equal(frames[0], frames[1]) and np.array_equal(frames[0], render_scene(spin)[0])
    grow = Scene((SceneObject("circle", "green", "small", "grow", 0.5, 0.5),), "gray", 128, 128, 16, 33)
    f = render_scene(grow)
    area = [coverage(f[k], (128, 128, 128), vocab.COLORS["green"]).sum() for k in (0, 32)]
    assert area[1] / area[0] == pytest.approx(1.8**2, rel=0.02)
