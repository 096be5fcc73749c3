"""Scenes: the seeded sampler, its distributions and hold-outs, JSON and validation."""

import json
import math

import numpy as np
import pytest

from openreel.errors import InvalidInput
from openreel.world import vocab
from openreel.world.physics import extents, first_contact_time, simulate
from openreel.world.sampler import SceneDist, overlaps, realize, sample_scene
from openreel.world.scene import Scene, SceneObject, frame_size, parse_combo, scene_from_dict, trajectory_from_json


def draw(n, dist=None, seed=0):
    return [sample_scene(np.random.default_rng([seed, i]), dist) for i in range(n)]


def test_sampler_is_deterministic_for_a_seed():
    assert draw(20, seed=5) == draw(20, seed=5)
    assert draw(20, seed=5) != draw(20, seed=6)


def test_sampled_scenes_obey_the_world_rules():
    for scene in draw(300, SceneDist(size=128, seconds={2.0: 1, 3.0: 1}, aspects={"1:1": 1, "16:9": 1, "9:16": 1})):
        assert scene.realized
        assert scene.frames == vocab.FPS * round(scene.duration) + 1
        colors = [o.color for o in scene.objects]
        assert len(set(colors)) == len(colors) and scene.background in vocab.BACKGROUNDS
        assert not any(o.shape == "circle" and o.motion in vocab.SPINS for o in scene.objects)
        pair = [o for o in scene.objects if o.motion == "collide"]
        assert len(pair) in (0, 2)
        if pair:
            assert pair[0].y == pair[1].y and pair[0].vx * pair[1].vx < 0
        traj = simulate(scene)
        assert not overlaps(scene, traj)
        for i, o in enumerate(scene.objects):  # inside the frame at every frame
            ex, eu, ed = extents(o, scene, float(traj[:, i, 3].max()))
            if o.motion not in vocab.SPINS:
                assert np.all(traj[:, i, 0] >= ex - 1e-9) and np.all(traj[:, i, 0] <= 1 - ex + 1e-9)
                assert np.all(traj[:, i, 1] >= eu - 1e-9) and np.all(traj[:, i, 1] <= 1 - ed + 1e-9)


def test_each_motion_is_visible_within_the_clip():
    dist = SceneDist(size=128, objects={1: 1}, seconds={2.0: 1})
    for scene in draw(200, dist, seed=1):
        o = scene.objects[0]
        floor = 1 - extents(o, scene)[2]
        if o.motion == "fall_bounce":  # first contact after >= 0.5 s of fall, with >= 0.5 s left
            t1 = first_contact_time(o.y, floor)
            assert 0.49 < t1 <= scene.duration - 0.5 + 1e-9
        if o.motion in vocab.MOVES:  # a second of travel before the wall (or the whole way across)
            pos = simulate(scene)[:, 0, :2]
            axis = 0 if vocab.MOVES[o.motion][0] else 1
            ex, eu, ed = extents(o, scene)
            span = 1 - 2 * ex if axis == 0 else 1 - eu - ed
            speed = abs(o.vx if axis == 0 else o.vy)
            assert 0.24 - 1e-9 <= speed <= 0.36 + 1e-9
            assert abs(pos[vocab.FPS, axis] - pos[0, axis]) >= min(speed, span) - 1e-9
        if o.motion == "bounce_around":
            v = np.diff(simulate(scene)[:, 0, :2], axis=0)
            assert np.any(np.sign(v[1:]) * np.sign(v[:-1]) < 0)  # a reflection happens


def test_distribution_controls():
    scenes = draw(
        60,
        SceneDist(
            size=96,
            objects={2: 1},
            motions={"spin_cw": 1, "spin_ccw": 1},
            backgrounds={"white": 1},
            sizes={"large": 1},
            seconds={3.0: 1},
            aspects={"16:9": 1},
        ),
    )
    assert all(len(s.objects) == 2 for s in scenes)
    assert all(o.motion in vocab.SPINS and o.shape != "circle" and o.size == "large" for s in scenes for o in s.objects)
    assert all(s.background == "white" and (s.width, s.height) == (170, 96) and s.frames == 49 for s in scenes)
    counts = np.bincount([len(s.objects) for s in draw(400, SceneDist(size=96))], minlength=4)[1:] / 400
    assert np.allclose(counts, [0.4, 0.35, 0.25], atol=0.08)


def test_frame_sizes_are_even_with_the_shorter_side_given():
    assert frame_size(256, "1:1") == (256, 256)
    assert frame_size(256, "16:9") == (456, 256)
    assert frame_size(256, "9:16") == (256, 456)
    assert frame_size(64, "16:9") == (114, 64)


def test_holdout_train_excludes_and_heldout_contains_only_the_combinations():
    combos = ("purple triangle + spin", "red ball + fall_bounce", "large blue square")
    train = draw(300, SceneDist(size=96, holdout=combos, split="train"), seed=2)
    held = draw(100, SceneDist(size=96, holdout=combos, split="heldout"), seed=3)
    parsed = [parse_combo(c) for c in combos]
    assert not any(c.matches(s) for s in train for c in parsed)
    assert all(any(c.matches(s) for c in parsed) for s in held)
    hits = {c.text: sum(c.matches(s) for s in held) for c in parsed}
    assert all(n >= 15 for n in hits.values()), hits  # each combination is drawn, roughly uniformly


def test_combo_parsing():
    c = parse_combo("purple triangle + spin")
    assert (c.color, c.shape, c.motions) == ("purple", "triangle", frozenset({"spin_cw", "spin_ccw"}))
    assert parse_combo("box, move_left, navy").background == "navy"
    with pytest.raises(InvalidInput, match="wiggly"):
        parse_combo("wiggly triangle")
    with pytest.raises(InvalidInput, match="circles do not spin"):
        parse_combo("circle + spin")


def test_scene_json_round_trip_with_trajectory():
    scene = draw(1, SceneDist(size=96, objects={3: 1}), seed=4)[0]
    traj = simulate(scene)
    data = json.loads(json.dumps(scene.to_dict(traj)))
    assert scene_from_dict(data) == Scene.from_dict({k: v for k, v in data.items()})
    back = scene_from_dict(data)
    assert all(abs(a.x - b.x) < 1e-6 and a.motion == b.motion for a, b in zip(back.objects, scene.objects))
    assert np.abs(trajectory_from_json(data["trajectory"]) - traj).max() < 1e-4
    assert len(data["trajectory"]) == scene.frames and set(data["trajectory"][0][0]) == {"x", "y", "angle", "scale"}
    assert scene_from_dict({"scene": data}) == back  # a metadata line works too


@pytest.mark.parametrize(
    "data,key",
    [
        ({"objects": [{"shape": "circle", "color": "violet"}]}, "objects[0].color"),
        ({"objects": [{"shape": "circle", "color": "red", "colour": "red"}]}, "objects[0].colour"),
        ({"objects": [{"shape": "circle", "color": "red", "motion": "spin_cw"}]}, "objects[0].motion"),
        ({"objects": [{"shape": "circle", "color": "red"}], "background": "pink"}, "background"),
        ({"objects": [{"shape": "circle", "color": "red"}, {"shape": "square", "color": "red"}]}, "objects"),
        ({"objects": [{"shape": "circle", "color": "red", "motion": "collide"}]}, "objects"),
        ({"objects": [{"shape": "circle", "color": "red", "x": 1.5, "y": 0.5}]}, "objects[0].x"),
        ({"objects": []}, "objects"),
        ({"objects": [{"shape": "circle", "color": "red"}], "frams": 33}, "frams"),
    ],
)
def test_bad_json_scenes_name_the_key(data, key):
    with pytest.raises(InvalidInput) as err:
        scene_from_dict(data)
    assert err.value.field == key


def test_realize_places_a_description():
    desc = Scene(
        (SceneObject("circle", "red", "small", "fall_bounce"), SceneObject("square", "blue", "large", "spin_cw")), None
    )
    scene = realize(desc, np.random.default_rng(0), width=128, height=128, seconds=3.0)
    assert scene.realized and scene.frames == 49 and scene.background in vocab.BACKGROUNDS
    assert [(o.shape, o.motion) for o in scene.objects] == [("circle", "fall_bounce"), ("square", "spin_cw")]
    assert not overlaps(scene, simulate(scene))
    crowded = Scene(
        tuple(
            SceneObject(s, c, "large", "grow")
            for s, c in (("circle", "red"), ("square", "blue"), ("triangle", "green"))
        ),
        "black",
    )
    with pytest.raises(InvalidInput, match="cannot place"):
        realize(crowded, np.random.default_rng(0), width=128, height=128, tries=20)


def test_bad_distributions_are_user_errors():
    with pytest.raises(InvalidInput):
        SceneDist(motions={"wiggle": 1.0})
    with pytest.raises(InvalidInput):
        SceneDist(split="heldout")
    with pytest.raises(InvalidInput):
        SceneDist(seconds={2.01: 1.0})
    with pytest.raises(InvalidInput):
        SceneDist(size=32)
    assert math.isclose(sum(SceneDist().objects.values()), 1.0)
