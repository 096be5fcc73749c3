"""Dataset folders: format, determinism across worker counts, atomic writes, no silent overwrite."""

import json

import numpy as np
import pytest

from openreel.errors import InvalidInput
from openreel.video.io import read_video
from openreel.world.dataset import make_sample, read_metadata, stream, write_dataset
from openreel.world.physics import simulate
from openreel.world.sampler import SceneDist
from openreel.world.scene import scene_from_dict, trajectory_from_json

DIST = SceneDist(size=64, seconds={1.0: 1.0, 2.0: 1.0})


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    write_dataset(root / "one", 6, seed=7, dist=DIST, workers=1)
    write_dataset(root / "two", 6, seed=7, dist=DIST, workers=2)
    return root / "one", root / "two"


def test_metadata_is_identical_whatever_the_worker_count(two_datasets):
    one, two = two_datasets
    assert (one / "metadata.jsonl").read_text() == (two / "metadata.jsonl").read_text()
    a, b = read_video(one / "clips" / "000003.mp4").frames, read_video(two / "clips" / "000003.mp4").frames
    assert np.array_equal(a, b)


def test_folder_layout_and_metadata_keys(two_datasets):
    folder = two_datasets[0]
    rows = read_metadata(folder)
    assert [r["id"] for r in rows] == [f"{i:06d}" for i in range(6)]  # index order
    info = json.loads((folder / "dataset.json").read_text())
    assert info["format"] == "openreel-video-folder" and info["count"] == 6 and info["crf"] <= 12
    for row in rows:
        assert row["video"] == f"clips/{row['id']}.mp4" and (folder / row["video"]).is_file()
        assert set(row["captions"]) == {"en", "zh"} and all(len(v) == 3 for v in row["captions"].values())
        scene = scene_from_dict(row["scene"])
        assert scene.realized and scene.fps == 16 and (scene.width, scene.height) == (64, 64)
        traj = trajectory_from_json(row["scene"]["trajectory"])
        assert traj.shape == (scene.frames, len(scene.objects), 4)
        assert np.abs(traj - simulate(scene)).max() < 1e-4
        video = read_video(folder / row["video"])
        assert video.frames.shape == (scene.frames, 64, 64, 3) and video.fps == 16


def test_videos_are_near_lossless(two_datasets):
    folder = two_datasets[0]
    row = read_metadata(folder)[2]
    truth = make_sample(row["seed"], row["index"], DIST).frames
    decoded = read_video(folder / row["video"]).frames.astype(int)
    assert np.abs(decoded - truth).mean() < 3.0  # CRF 10, yuv420p


def test_refuses_to_overwrite_without_force(two_datasets, tmp_path):
    folder = two_datasets[0]
    with pytest.raises(InvalidInput) as err:
        write_dataset(folder, 2, seed=1, dist=DIST)
    assert err.value.field == "out" and "--force" in err.value.message
    assert len(read_metadata(folder)) == 6  # untouched
    target = tmp_path / "again"
    write_dataset(target, 3, seed=1, dist=DIST)
    write_dataset(target, 2, seed=2, dist=DIST, force=True)
    assert len(read_metadata(target)) == 2 and not (target / "clips" / "000002.mp4").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders left


def test_bad_settings_are_user_errors(tmp_path):
    with pytest.raises(InvalidInput, match="CRF"):
        write_dataset(tmp_path / "x", 1, dist=DIST, crf=23)
    with pytest.raises(InvalidInput):
        write_dataset(tmp_path / "x", 0, dist=DIST)
    with pytest.raises(InvalidInput, match="even"):
        write_dataset(tmp_path / "x", 1, dist=SceneDist(size=65))
    (tmp_path / "bad.jsonl").write_text('{"video": "a.mp4"}\n')
    with pytest.raises(InvalidInput, match="captions"):
        read_metadata(tmp_path / "bad.jsonl")


def test_stream_matches_the_dataset():
    s = stream(7, DIST)
    first = [next(s) for _ in range(3)]
    again = make_sample(7, 2, DIST)
    assert first[2].scene == again.scene and np.array_equal(first[2].frames, again.frames)
    assert first[2].captions == again.captions
