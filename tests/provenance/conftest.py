"""Provenance fixtures: a private config and data dir per test, shapes-world clips, a signed video."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def provenance_dirs(tmp_path, monkeypatch):
    """Each test gets its own local identity, record store and audit log."""
    config, data = tmp_path / "config", tmp_path / "data"
    monkeypatch.setenv("OPENREEL_CONFIG_DIR", str(config))
    monkeypatch.setenv("OPENREEL_DATA_DIR", str(data))
    monkeypatch.delenv("OPENREEL_POLICY_TERMS", raising=False)
    monkeypatch.delenv("OPENREEL_WATERMARK_KEY", raising=False)
    return config, data


def shapes_clip(seed: int, size: int = 256, seconds: float = 2.0) -> np.ndarray:
    """A shapes-world render (the content OpenReel's own model makes)."""
    from openreel.world.physics import simulate
    from openreel.world.render import render
    from openreel.world.sampler import SceneDist, sample_scene

    scene = sample_scene(np.random.default_rng(seed), SceneDist(size=size, seconds={seconds: 1.0}))
    return render(scene, simulate(scene))


@pytest.fixture(scope="session")
def make_clip():
    return shapes_clip


@pytest.fixture(scope="session")
def clip() -> np.ndarray:
    return shapes_clip(3)
