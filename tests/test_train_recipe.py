"""The default model's recipe, `scripts/train_default_model.py`, end to end on a tiny budget: both
stages (throughput probe, sized run, time limit), the transformer's rendered + cached dataset, the
exports, and the held-out checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from openreel.models.bundle import load_model

SCRIPT = Path(__file__).parent.parent / "scripts" / "train_default_model.py"


def test_recipe_trains_exports_and_checks_within_budget(tmp_path):
    sets = ["model.base=tiny", "data.width=64", "data.height=64", "data.frames=9", "run.batch_size=2",
            "data.workers=0", "vae.stats_batches=1", "optim.warmup_steps=2"]
    args = [a for s in sets for a in ("--set", s)]
    cmd = [sys.executable, str(SCRIPT), "--minutes", "0.3", "--out", str(tmp_path), "--check", "1"]
    cmd += ["--probe-steps", "4", "--t2v-cache", "4"]  # the transformer from 4 world clips, cached
    res = subprocess.run(cmd + args, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["vae"]["clips"] == 1 and report["vae"]["original_pass"] == 1.0  # the evaluator reads the originals
    assert report["generation"]["prompts"] == 1 and "present" in report["generation"]["per_check"]
    assert report["generation"]["frame_shape"]["object_frames"] > 0  # generated shapes read frame by frame
    gains = report["text"]["per_sigma"]  # how much it reads the prompt: right vs shuffled captions
    assert report["text"]["clips"] == 2 and set(gains) == {"0.5", "0.8", "0.95", "1.0"}
    assert all(abs(row["gain"] - (row["shuffled"] - row["right"])) < 2e-5 for row in gains.values())  # rounded
    renoised = report["renoise"]["per_start"]  # from which noise level the held-out clip's objects are lost
    assert report["renoise"]["clips"] == 1 and set(renoised) == {"0.6", "0.8", "0.9", "1.0"}
    assert all(0 <= row["pass"] <= 1 and 0 <= row["present_share"] <= 1 for row in renoised.values())
    for stage in ("vae", "t2v"):
        state = json.loads((tmp_path / stage / "last" / "state.json").read_text())
        planned = json.loads((tmp_path / stage / "config.json").read_text())["config"]["run"]
        assert planned["max_minutes"] is not None and state["step"] <= planned["steps"]
    t2v = json.loads((tmp_path / "t2v" / "config.json").read_text())["config"]["data"]
    assert t2v["source"] == "world" and t2v["limit"] == 4 and (tmp_path / "t2v-cache" / "cache.json").is_file()
    model = load_model(tmp_path / "model-fp16", device="cpu")
    assert model.spec.name == "openreel-shapes-v1" and (model.defaults.width, model.defaults.frames) == (64, 9)
    fp16 = load_model(tmp_path / "model-fp16", device="cpu", dtype=None)
    assert next(fp16.transformer.parameters()).dtype in (torch.float16, torch.float32)

    # Continue from that VAE without training it (--vae-share 0): only the transformer stage runs.
    again = tmp_path / "again"
    cmd = [sys.executable, str(SCRIPT), "--minutes", "0.1", "--out", str(again), "--check", "1", "--probe-steps", "2",
           "--vae-share", "0", "--vae-from", str(tmp_path / "vae-model")]
    res = subprocess.run(cmd + args, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert not (again / "vae").exists() and (again / "t2v" / "last").is_dir()
    kept = load_model(tmp_path / "vae-model", device="cpu").vae.state_dict()
    used = load_model(again / "model", device="cpu").vae.state_dict()
    assert all(torch.equal(kept[k], used[k]) for k in kept)

    # Continue a whole model's transformer and text encoder (--t2v-from, e.g. a refined model) on its own VAE.
    more = tmp_path / "more"
    cmd = [sys.executable, str(SCRIPT), "--minutes", "0.05", "--out", str(more), "--check", "1", "--probe-steps", "2",
           "--t2v-from", str(again / "model")]
    res = subprocess.run(cmd + args, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((more / "t2v" / "config.json").read_text())["config"]["model"]["base"] == str(again / "model")
    assert not (more / "vae").exists() and (more / "model" / "transformer").is_dir()

    # Score a VAE alone (what a session continuing the VAE compares against the kept one).
    cmd = [sys.executable, str(SCRIPT), "--check-vae", str(tmp_path / "vae-model"), "--check", "1",
           "--check-suite", "seen"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    scores = json.loads(res.stdout)
    assert scores["clips"] == 1 and scores["original_pass"] == 1.0 and 0 < scores["object_psnr_db_mean"] < 99
    assert scores["suite"] == "seen"  # the scenes the transformer trained on

    # How much a model reads its prompt, alone (what a session continuing the transformer compares).
    cmd = [sys.executable, str(SCRIPT), "--check-text", str(again / "model"), "--check", "3"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    scores = json.loads(res.stdout)
    assert scores["clips"] == 3 and all(row["right"] > 0 for row in scores["per_sigma"].values())

    # Generate and score alone, on the scenes the transformer trained on (the seen suite).
    cmd = [sys.executable, str(SCRIPT), "--check-generate", str(again / "model"), "--check", "2",
           "--check-suite", "seen", "--check-steps", "2"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    scores = json.loads(res.stdout)
    assert scores["suite"] == "seen" and scores["prompts"] == 2 and scores["steps"] == 2
    assert scores["frame_shape"]["object_frames"] > 0 and 0 <= scores["frame_shape"]["correct"] <= 1


def test_blur_yardstick_passes_a_slight_blur_and_fails_a_heavy_one():
    # What --check-blur is for: how sharp must a VAE's reconstruction be for the evaluator?
    def blurred(sigma, *size):
        res = subprocess.run([sys.executable, str(SCRIPT), "--check-blur", str(sigma), "--check", "2", *size],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        return json.loads(res.stdout)

    slight, heavy = blurred(0.5), blurred(6)
    assert slight["recon_pass"] == 1.0 and heavy["recon_pass"] < 1.0
    assert slight["object_psnr_db_mean"] > heavy["object_psnr_db_mean"]
    # Shape read frame by frame: every readable object-frame survives a slight blur, fewer a heavy one.
    assert slight["frame_shape"]["object_frames"] > 20 and slight["frame_shape"]["correct"] == 1.0
    assert heavy["frame_shape"]["correct"] < 1.0
    # The same scenes rendered at 256x256 (what --check-size is for: objects twice the pixels).
    big = blurred(0.5, "--check-size", "256")
    assert big["size"] == 256 and big["recon_pass"] == 1.0 and big["frame_shape"]["correct"] == 1.0
    # The scenes the transformer trained on (--check-suite seen): the ceiling a model fitted to them meets.
    seen = blurred(0.5, "--check-suite", "seen")
    assert seen["suite"] == "seen" and slight["suite"] == "heldout" and seen["recon_pass"] == 1.0
    assert seen["frame_shape"]["object_frames"] != slight["frame_shape"]["object_frames"]  # other scenes
