"""The clip-length benchmark scores a suite whole and in training-length windows (on world clips, whose
every window must pass what does not depend on where a motion starts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from openreel.world.dataset import write_dataset
from openreel.world.sampler import SceneDist

BENCH = Path(__file__).parents[2] / "benchmarks" / "clip_length.py"


def as_generated_suite(folder: Path) -> None:
    """A world dataset's metadata in the shape `openreel eval --model` writes: one prompt a clip."""
    rows = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]
    suite = [{"id": f"{i:04d}", "video": r["video"], "prompt": r["captions"]["en"][0], "lang": "en", "seconds": 0.5 + i}
             for i, r in enumerate(rows)]
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in suite))


def test_long_world_clips_score_whole_and_in_every_window(tmp_path):
    data = tmp_path / "f65"
    write_dataset(data, 3, seed=5, dist=SceneDist(size=64, seconds={4.0: 1.0}))  # 65 frames at 16 fps
    as_generated_suite(data)
    out = tmp_path / "lengths.json"
    run = subprocess.run([sys.executable, str(BENCH), str(data), "--out", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    suite = json.loads(out.read_text())["suites"][0]
    assert suite["frames"] == [65] and suite["seconds_per_clip_median"] == 1.5 and suite["whole"]["pass"] == 1.0
    assert suite["whole"]["objects_present"] == 1.0 and suite["whole"]["objects_split"] == 0
    assert all(all(clip) for clip in suite["whole"]["present_by_clip"].values())
    assert list(suite["windows"]) == ["frames 0-32", "frames 32-64"]
    for window in suite["windows"].values():
        assert window["clips"] == 3 and window["present_share"] == 1.0
        assert window["per_check"]["present"] == window["per_check"]["no_extra"] == 1.0
