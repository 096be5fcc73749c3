"""The sampling-defaults benchmark runs its grid end to end (tiny random model, two cells)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks" / "sampling_defaults.py"


def bench(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(BENCH), "--model", "tiny", "--count", "2", "--steps", "1", "--size", "64x64"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300)


def test_grid_writes_one_scored_cell_per_setting_and_appends(tmp_path):
    out = tmp_path / "cells.json"
    result = bench("--guidance", "1,3", "--shifts", "5", "--out", str(out), "--keep", str(tmp_path / "cells"))
    assert result.returncode == 0, result.stderr
    result = bench("--guidance", "2", "--solvers", "euler", "--intervals", "0.5:1", "--append", "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert [c["settings"] for c in data["cells"]] == [
        {"solver": "unipc", "steps": 1, "guidance": 1.0, "shift": 5.0, "size": "64x64"},
        {"solver": "unipc", "steps": 1, "guidance": 3.0, "shift": 5.0, "size": "64x64"},
        {"solver": "euler", "steps": 1, "guidance": 2.0, "guidance_interval": [0.5, 1.0], "size": "64x64"}]
    for cell in data["cells"]:
        assert 0 <= cell["pass_rate"] <= 1 and 0 <= cell["present_share"] <= 1
        assert "background" in cell["per_check"] or "present" in cell["per_check"]
        assert cell["seconds_per_clip_median"] > 0
    assert data["prompts"] == 2 and data["suite"] == "heldout" and data["model_defaults"]["solver"] == "unipc"
    assert all(0 <= c["objects_present"] <= 1 and c["objects_split"] >= 0 for c in data["cells"])
    kept = [tmp_path / "cells" / name / "eval.json" for name in ("unipc-1-1-5", "unipc-1-3-5")]
    assert all((p.parent / "0001.mp4").is_file() for p in kept)  # both cells' videos, and reports to pair
    compared = subprocess.run([sys.executable, "-m", "openreel", "compare", *map(str, kept), "--json"],
                              capture_output=True, text=True, timeout=60)
    assert compared.returncode == 0, compared.stderr
    assert json.loads(compared.stdout)["clips"] == 2
    result = bench("--guidance", "2", "--suite", "seen", "--append", "--out", str(out))  # other prompts: not mixed
    assert result.returncode != 0 and "2 heldout prompts, not 2 seen" in result.stderr
