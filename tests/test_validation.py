"""Every user mistake is a clear error naming the field and the limit, with exit code 2 and no traceback."""

from __future__ import annotations

import pytest

from openreel.errors import InvalidInput
from openreel.request import Limits
from tests.test_generate import invoke, run_cli


@pytest.mark.parametrize(
    "settings, field, words",
    [
        (dict(size="250x250"), "size", ["multiples of 16", "240x240", "256x256"]),
        (dict(size="16x8"), "size", ["multiples of 16", "16x16"]),
        (dict(size="big"), "size", ["832x480"]),
        (dict(frames=10), "frames", ["4n+1", "9 or 13"]),
        (dict(seconds=2.1), "seconds", ["35 frames", "2 s or 2.25 s"]),
        (dict(frames=9, seconds=1), "seconds", ["frames or seconds"]),
        (dict(size="16x16", aspect="16:9"), "aspect", ["size or aspect"]),
        (dict(aspect="21:9"), "aspect", ["16:9"]),
        (dict(steps=0), "steps", [">= 1", "got 0"]),
        (dict(steps=201), "steps", ["limit of 200"]),
        (dict(frames=245), "frames", ["limit of 241"]),
        (dict(size="1280x736"), "size", ["942080 pixels", "921600"]),
        (dict(guidance=-1.0), "guidance", [">= 0"]),
        (dict(seed=-1), "seed", [">= 0"]),
        (dict(fps=0), "fps", ["> 0"]),
        (dict(solver="ddim"), "solver", ["euler", "dpmpp_2m"]),
        (dict(shift=0), "shift", ["> 0"]),
        (dict(sigmas=[1.0, 0.5, 0.7, 0.0]), "sigmas", ["decrease"]),
        (dict(sigmas=[1.0, 0.5]), "sigmas", ["exactly 0"]),
        (dict(guidance_interval=(0.8, 0.5)), "guidance_interval", ["0 <= LOW < HIGH <= 1", "got 0.8 0.5"]),
        (dict(guidance_interval=(0, 1.5)), "guidance_interval", ["HIGH <= 1"]),
        (dict(bogus=1), "bogus", ["not a generation setting"]),
        (dict(negative_prompt="x" * 300), "negative_prompt", ["at most 256"]),
    ],
)
def test_invalid_settings_name_field_and_limit(tiny_generator, settings, field, words):
    with pytest.raises(InvalidInput) as err:
        tiny_generator.resolve("a red ball", **settings)
    assert err.value.field == field
    for word in words:
        assert word in err.value.message, err.value.message


@pytest.mark.parametrize("prompt, words", [
    ("", ["empty"]), ("   \n ", ["empty"]), ("x" * 300, ["301 tokens", "at most 256"]),
    ("球" * 90, ["271 tokens"]), ("y" * 2001, ["2001 characters", "2000"]),
])
def test_bad_prompts(tiny_generator, prompt, words):
    with pytest.raises(InvalidInput) as err:
        tiny_generator.resolve(prompt)
    assert err.value.field == "prompt"
    for word in words:
        assert word in err.value.message


def test_limits_are_configurable(tiny_generator, monkeypatch):
    from openreel import Generator

    strict = Generator(tiny_generator.model, Limits(max_steps=5, max_frames=9, max_pixels=32 * 32))
    for settings, field in [(dict(steps=6, size="16x16", frames=9), "steps"), (dict(frames=13, size="16x16"), "frames"),
                            (dict(size="48x32"), "size")]:
        with pytest.raises(InvalidInput) as err:
            strict.resolve("a red ball", **settings)
        assert err.value.field == field
    monkeypatch.setenv("OPENREEL_MAX_STEPS", "7")
    assert Limits.from_env().max_steps == 7
    monkeypatch.setenv("OPENREEL_MAX_STEPS", "lots")
    with pytest.raises(InvalidInput, match="OPENREEL_MAX_STEPS"):
        Limits.from_env()


def test_ti2v_grid_is_32(official_folder):
    from openreel import Generator

    if official_folder.name != "wan2.2-ti2v-5b":
        pytest.skip("grid of the 16x VAE only")
    with pytest.raises(InvalidInput, match=r"multiples of 32\); nearest valid: 32x32"):
        Generator.from_pretrained(official_folder, device="cpu").resolve("a cat", size="16x16")


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "a ball", "--size", "250x250", "-m", "tiny"], "error: size: 250x250 does not fit"),
        (["generate", "", "-m", "tiny"], "error: prompt: is empty"),
        (["generate", "a ball", "--frames", "10", "-m", "tiny"], "error: frames: 10 does not fit"),
        (["generate", "a ball", "-m", "/no/such/model"], "error: model: no model folder at /no/such/model"),
        (["generate", "a ball", "-m", "huge"], "error: model: no preset or model folder named 'huge'"),
        (["generate", "a ball", "-m", "tiny", "-o", "v.avi"], "error: output: v.avi must end in .mp4"),
        (["generate", "a ball", "--steps", "x"], "Invalid value for '--steps'"),
        (["generate", "a ball", "--guidance-interval", "0.9", "0.2"], "error: guidance_interval: must be two noise"),
        (["eval", "--model", "/no/such/model", "--guidance-interval", "0", "2"], "error: guidance_interval: must be"),
        (["generate", "a ball", "--device", "cuda:0", "-m", "tiny"], "error: device: cuda:0"),
    ],
)
def test_cli_user_errors_exit_2_without_traceback(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_cli_error_in_a_real_process(tmp_path):
    res = run_cli("generate", "a ball", "--frames", "10", "-m", "tiny", cwd=tmp_path)
    assert res.returncode == 2
    last_line = res.stderr.strip().splitlines()[-1]
    assert last_line == "error: frames: 10 does not fit the model (4n+1 frames); nearest valid: 9 or 13"


def test_cli_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "v.mp4"
    out.write_bytes(b"precious")
    code, _, err = invoke(capsys, "generate", "a ball", "-m", "tiny", "-o", str(out))
    assert code == 2 and "--force" in err
    assert out.read_bytes() == b"precious"


def test_model_folder_missing_component(tmp_path, tiny_folder):
    import shutil

    from openreel.models import load_model

    broken = tmp_path / "broken"
    shutil.copytree(tiny_folder, broken)
    shutil.rmtree(broken / "vae")
    with pytest.raises(InvalidInput, match="no vae/ component"):
        load_model(broken)
    (broken / "model_index.json").unlink()
    with pytest.raises(InvalidInput, match="not a model folder"):
        load_model(broken)
