"""The shipped default model: it loads from the package, is what `openreel generate` uses without
--model, and still makes videos the evaluator passes for a few fixed prompts.

The prompts and checks below are ones the committed weights pass (see MODEL_CARD.md); a change to
the sampler, the VAE decode, the text path or the weights that breaks them fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from openreel.generator import DEFAULT_MODEL_DIR, Generator

# (prompt, seed, checks that must pass: "clip" = every check of every object). openreel-shapes-v1
# passes no clip's every check yet (MODEL_CARD.md), so these are the checks it does pass at its
# shipped defaults, for the README's prompt and two of the issue's: the asked-for backgrounds, no
# extra objects, an orange and a blue object drawn as one blob (present) and an orange one kept
# whole through the clip (consistency). The red ball is found in every frame but drawn twice since
# the default shift became 10 (shift 3 drew it once here, and fewer objects once over 300 prompts).
# Raise them as the model improves.
REGRESSION = [
    ("a red ball falls and bounces on a black background", 1, ["background", "no_extra"]),
    ("灰色背景上，一个橙色三角形顺时针旋转", 0, ["present", "no_extra", "consistency"]),
    ("a blue square moves to the right on a white background", 2, ["present", "background"]),
]
FAST = dict(steps=10)  # the shipped defaults (10 UniPC steps, shift 10, 128x128x33)

# Until the first weights are committed (issue 5) there is nothing to regress; with them, all of this runs.
pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "model_index.json").is_file(),
                                reason="no default model committed yet (src/openreel/weights/default)")


@pytest.fixture(scope="module")
def default_generator():
    assert (DEFAULT_MODEL_DIR / "model_index.json").is_file(), "the default model's weights are missing"
    return Generator.from_pretrained("default", device="cpu")


def test_default_model_is_small_half_precision_and_packaged():
    files = list(DEFAULT_MODEL_DIR.rglob("*.safetensors"))
    assert files and sum(f.stat().st_size for f in files) <= 50 * 2**20
    from safetensors import safe_open

    for f in files:
        with safe_open(f, "pt") as st:
            assert {str(st.get_slice(k).get_dtype()) for k in st.keys()} <= {"F16", "BF16"}, f
    spec = json.loads((DEFAULT_MODEL_DIR / "openreel.json").read_text())
    assert spec["name"].startswith("openreel-shapes")


@pytest.mark.parametrize(("prompt", "seed", "checks"), REGRESSION)
def test_fixed_prompts_still_pass_the_evaluator(default_generator, prompt, seed, checks):
    from openreel.eval.score import score_clip
    from openreel.world.parse import parse_caption

    video = default_generator.generate(prompt, seed=seed, **FAST)
    score = score_clip(video.frames, parse_caption(prompt), fps=video.fps)
    for check in checks:
        passed = score.passed if check == "clip" else score.check_passed(check)
        assert passed, f"{prompt!r}: {check} failed: {score.failures()}"


def test_generate_without_model_uses_the_shipped_weights(tmp_path):
    out = tmp_path / "a.mp4"
    result = subprocess.run([sys.executable, "-m", "openreel", "generate", REGRESSION[0][0], "-o", str(out),
                             "--steps", "4", "--quiet"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr.lower()  # no fallback to the random preset
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["model"]["id"].startswith("openreel-shapes")
    assert record["provenance"]["watermark"]["state"] == "embedded"  # 128x128: big enough for the mark


def test_issue_command_in_chinese_at_9_16(tmp_path):
    # the shorter side stays the model's 128: a 9:16 clip is 128x224, wide enough for the watermark
    out = tmp_path / "b.mp4"
    result = subprocess.run([sys.executable, "-m", "openreel", "generate", "灰色背景上，一个橙色三角形顺时针旋转",
                             "--aspect", "9:16", "-o", str(out), "--steps", "2", "--quiet"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    record = json.loads(out.with_suffix(".json").read_text())
    assert (record["settings"]["width"], record["settings"]["height"]) == (128, 224)
    assert record["provenance"]["watermark"]["state"] == "embedded"


def test_longer_clips_run_with_attention_as_trained(default_generator):
    """The shipped model leaves length-scaled attention off: read strictly, it drew fewer objects as one
    blob in longer clips (MODEL_CARD.md, "Longer clips"); the mechanism's own tests are in test_attention.py."""
    longer = default_generator.generate("a red ball falls", seed=0, steps=1, frames=65)
    assert longer.record.attention_scale == 1.0 and longer.frames.shape[0] == 65
