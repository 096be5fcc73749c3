"""Physics against closed forms (spec section 4) and against an independent step integrator."""

import math

import numpy as np
import pytest

from openreel.world import vocab
from openreel.world.physics import bounce_height, contact_distance, extents, fold, simulate
from openreel.world.scene import Scene, SceneObject

G, E = vocab.GRAVITY, vocab.RESTITUTION


def one(obj: SceneObject, width=256, height=256, seconds=2.0, background="black") -> Scene:
    return Scene((obj,), background, width, height, vocab.FPS, vocab.frame_count(seconds))


def ball(motion="fall_bounce", x=0.5, y=0.2, vx=0.0, vy=0.0, shape="circle", size="medium", angle=0.0):
    return SceneObject(shape, "red", size, motion, x, y, vx, vy, angle)


def step_bounce(y0, floor, t_end, dt=1e-5):
    """Independent reference: explicit integration with an event-located floor contact."""
    y, v, t, out = y0, 0.0, 0.0, []
    while t < t_end:
        y_new, v_new = y + v * dt + 0.5 * G * dt * dt, v + G * dt
        if y_new >= floor and v_new > 0:  # contact inside this step: reflect at the exact instant
            tc = (-v + math.sqrt(v * v + 2 * G * (floor - y))) / G
            v_hit = (v + G * tc) * E
            rest = dt - tc
            y_new, v_new = floor - v_hit * rest + 0.5 * G * rest * rest, -v_hit + G * rest
            if v_hit < 1e-6:
                y_new, v_new = floor, 0.0
        y, v, t = y_new, v_new, t + dt
        out.append((t, y))
    return np.array(out)


@pytest.mark.parametrize("vy0", [0.0, 0.4, -0.3])
def test_first_bounce_time_closed_form(vy0):
    floor, y0 = 0.9, 0.3
    # from rest: t = sqrt(2 h / g); with a start speed: root of y0 + v t + g t^2 / 2 = floor
    t1 = (-vy0 + math.sqrt(vy0**2 + 2 * G * (floor - y0))) / G
    if vy0 == 0:
        assert t1 == pytest.approx(math.sqrt(2 * (floor - y0) / G))
    before = np.linspace(0, t1 - 1e-6, 10001)
    assert bounce_height(y0, vy0, floor, before).max() < floor  # no earlier contact
    y = bounce_height(y0, vy0, floor, np.array([t1 - 1e-4, t1, t1 + 1e-4]))
    assert y[1] == pytest.approx(floor, abs=1e-12)
    assert y[0] < floor and y[2] < floor  # it came down and goes back up


def test_apex_heights_shrink_by_e_squared_per_bounce():
    floor, y0 = 0.9, 0.2
    h = floor - y0
    t1 = math.sqrt(2 * h / G)
    v = G * t1
    start = t1
    for bounce in range(1, 4):
        v *= E  # speed after this contact
        apex_t = start + v / G
        apex = floor - bounce_height(y0, 0.0, floor, np.array([apex_t]))[0]
        assert apex == pytest.approx(h * E ** (2 * bounce), rel=1e-9)  # energy x e^2 per bounce
        start += 2 * v / G


def test_speed_ratio_at_contact_is_restitution():
    floor, y0 = 0.85, 0.25
    t1 = math.sqrt(2 * (floor - y0) / G)
    eps = 1e-6
    y = bounce_height(y0, 0.0, floor, np.array([t1 - eps, t1, t1 + eps]))
    v_in, v_out = (y[1] - y[0]) / eps, (y[2] - y[1]) / eps
    assert -v_out / v_in == pytest.approx(E, rel=1e-4)


def test_ball_comes_to_rest_after_the_geometric_series_of_bounces():
    floor, y0 = 0.9, 0.5
    t1 = math.sqrt(2 * (floor - y0) / G)
    t_rest = t1 + 2 * E * G * t1 / (G * (1 - E))
    y = bounce_height(y0, 0.0, floor, np.array([t_rest + 0.01, t_rest + 1.0]))
    assert np.allclose(y, floor)


def test_fall_bounce_trajectory_matches_step_integrator():
    scene = one(ball(y=0.25, size="small"), seconds=5.0)
    traj = simulate(scene)
    floor = 1 - extents(scene.objects[0], scene)[2]
    ref = step_bounce(0.25, floor, scene.duration + 0.01)
    t = np.arange(scene.frames) / scene.fps
    y_ref = np.interp(t, ref[:, 0], ref[:, 1])
    assert np.abs(traj[:, 0, 1] - y_ref).max() < 1e-3  # spec: exact to 1e-3
    assert np.all(traj[:, 0, 0] == 0.5)


def test_floor_is_the_bottom_edge_for_each_shape_and_aspect():
    for shape, down in (("circle", 1.0), ("square", 1 / math.sqrt(2)), ("triangle", 0.5)):
        for w, h in ((256, 256), (456, 256), (256, 456)):
            scene = one(ball(shape=shape, y=0.3), w, h, seconds=3.0)
            y = simulate(scene, np.linspace(0, 3, 300001))[:, 0, 1]
            r = vocab.SIZES["medium"] * min(w, h) / h
            floor = 1 - down * r  # the shape's lowest point touches the bottom edge, never passes it
            assert floor - 2e-5 <= y.max() <= floor + 1e-12


def test_move_is_linear_then_stops_at_the_wall():
    obj = ball("move_right", x=0.4, y=0.5, vx=0.3)
    scene = one(obj, seconds=3.0)
    x = simulate(scene)[:, 0, 0]
    t = np.arange(scene.frames) / scene.fps
    wall = 1 - vocab.SIZES["medium"]
    assert np.allclose(x, np.minimum(0.4 + 0.3 * t, wall))
    assert x[-1] == pytest.approx(wall)


def test_bounce_around_reflects_elastically_and_keeps_speed():
    obj = ball("bounce_around", x=0.3, y=0.6, vx=0.4 * math.cos(0.7), vy=0.4 * math.sin(0.7), size="small")
    scene = one(obj, seconds=5.0)
    t = np.linspace(0, 5, 50001)
    traj = simulate(scene, t)
    x, y = traj[:, 0, 0], traj[:, 0, 1]
    r = vocab.SIZES["small"]
    assert x.min() >= r - 1e-12 and x.max() <= 1 - r + 1e-12
    assert y.min() >= r - 1e-12 and y.max() <= 1 - r + 1e-12
    speed = np.hypot(np.diff(x), np.diff(y)) / np.diff(t)
    assert np.median(speed) == pytest.approx(0.4, rel=1e-6)
    vx = np.sign(np.diff(x))
    assert (vx[1:] != vx[:-1]).sum() >= 2  # it reflected off the side walls
    assert x.max() == pytest.approx(1 - r, abs=1e-4) and x.min() == pytest.approx(r, abs=1e-4)


def test_fold_is_a_triangle_wave():
    u = np.array([0.1, 0.9, 1.1, 1.9, 2.1])
    assert np.allclose(fold(u, 0.0, 1.0), [0.1, 0.9, 0.9, 0.1, 0.1])


@pytest.mark.parametrize("a,b,expected", [
    ("circle", "circle", lambda ra, rb: ra + rb),
    ("square", "square", lambda ra, rb: (ra + rb) / math.sqrt(2)),
    ("circle", "square", lambda ra, rb: ra + rb / math.sqrt(2)),
    # half-widths grow toward the base; the widest shared row is the small one's base, rb/2 down
    ("triangle", "triangle", lambda ra, rb: (ra + 2 * rb) / math.sqrt(3)),
])
def test_contact_distance_closed_forms(a, b, expected):
    scene = Scene((), "black", 300, 200, 16, 33)  # shorter side 200: radii in px below
    oa, ob = SceneObject(a, "red", "large"), SceneObject(b, "blue", "small")
    ra, rb = 0.15 * 200, 0.06 * 200
    assert contact_distance(oa, ob, scene) == pytest.approx(expected(ra, rb) / 300, abs=1e-5)


def test_collide_swaps_velocities_at_contact_and_never_overlaps():
    a = SceneObject("circle", "red", "medium", "collide", 0.3, 0.5, 0.3, 0.0)
    b = SceneObject("square", "blue", "small", "collide", 0.7, 0.5, -0.3, 0.0)
    scene = Scene((a, b), "black", 256, 256, 16, vocab.frame_count(3.0))
    d = contact_distance(a, b, scene)
    t_contact = (0.7 - 0.3 - d) / 0.6
    t = np.linspace(0, 3, 30001)
    traj = simulate(scene, t)
    xa, xb = traj[:, 0, 0], traj[:, 1, 0]
    assert np.all(xb - xa >= d - 1e-12)  # touching at most, never overlapping
    before, after = t < t_contact - 1e-3, (t > t_contact + 1e-3) & (t < t_contact + 0.2)
    dt = t[1] - t[0]
    assert np.allclose(np.diff(xa)[before[:-1]] / dt, 0.3) and np.allclose(np.diff(xb)[before[:-1]] / dt, -0.3)
    assert np.allclose(np.diff(xa)[after[:-1]] / dt, -0.3) and np.allclose(np.diff(xb)[after[:-1]] / dt, 0.3)
    k = np.argmin(np.abs(t - t_contact))
    assert xb[k] - xa[k] == pytest.approx(d, abs=1e-4)
    assert np.all(traj[:, :, 1] == 0.5)


def test_collide_then_walls_reflect_at_constant_speed():
    a = SceneObject("circle", "red", "small", "collide", 0.2, 0.5, 0.3, 0.0)
    b = SceneObject("circle", "blue", "small", "collide", 0.6, 0.5, -0.3, 0.0)
    scene = Scene((a, b), "black", 256, 256, 16, vocab.frame_count(10.0))
    t = np.linspace(0, 10, 100001)
    x = simulate(scene, t)[:, :, 0]
    assert x.min() >= 0.06 - 1e-12 and x.max() <= 0.94 + 1e-12
    assert np.all(x[:, 1] - x[:, 0] >= 0.12 - 1e-12)
    v = np.diff(x, axis=0) / (t[1] - t[0])
    # speeds stay 0.3 except in the few steps that contain a contact or a wall
    assert np.mean(np.isclose(np.abs(v), 0.3, atol=1e-6)) > 0.998


def test_spin_grow_shrink_closed_forms():
    objs = (SceneObject("square", "red", "small", "spin_cw", 0.2, 0.2, angle=10.0),
            SceneObject("triangle", "blue", "small", "spin_ccw", 0.8, 0.2),
            SceneObject("circle", "green", "small", "grow", 0.2, 0.75),
            SceneObject("square", "pink", "small", "shrink", 0.75, 0.75))
    scene = Scene(objs, "black", 256, 256, 16, vocab.frame_count(2.0))
    traj = simulate(scene)
    t = np.arange(scene.frames) / 16
    assert np.allclose(traj[:, 0, 2], 10 + 180 * t)  # clockwise positive
    assert np.allclose(traj[:, 1, 2], -180 * t)
    assert traj[0, 2, 3] == 1 and traj[-1, 2, 3] == pytest.approx(1.8)
    assert traj[-1, 3, 3] == pytest.approx(1 / 1.8)
    assert np.allclose(np.diff(traj[:, 2, 3], 2), 0)  # linear in time
    assert np.all(traj[:, :, :2] == traj[:1, :, :2])  # nothing travels


def test_simulate_needs_a_realized_scene():
    with pytest.raises(ValueError):
        simulate(Scene((SceneObject("circle", "red"),), "black"))
