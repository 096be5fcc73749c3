"""`openreel model`: presets, create, info; and the top-level help."""

from __future__ import annotations

import json

from tests.test_generate import invoke


def test_create_and_info(tmp_path, capsys):
    out = tmp_path / "m"
    code, stdout, _ = invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(out))
    assert code == 0 and (out / "model_index.json").is_file()
    code, _, err = invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(out))
    assert code == 2 and "not empty" in err
    code, stdout, _ = invoke(capsys, "model", "info", str(out), "--json")
    facts = json.loads(stdout)
    assert facts["size_multiple"] == 32 and facts["latent_channels"] == 48 and facts["frames"] == "4n+1"
    assert 1e6 < sum(facts["parameters"].values()) < 3e6
    assert facts["tokenizer"] == "ByT5Tokenizer"


def test_presets_listed_and_tiny_is_small(capsys):
    code, stdout, _ = invoke(capsys, "model", "presets")
    assert code == 0 and {"tiny", "small", "tiny-ti2v"} <= {line.split()[0] for line in stdout.splitlines()}
    code, stdout, _ = invoke(capsys, "model", "info", "tiny", "--json")
    assert 1e6 < sum(json.loads(stdout)["parameters"].values()) < 2e6


def test_every_command_help_has_examples(capsys):
    for args in (["generate"], ["model"], ["model", "create"], ["model", "info"], ["model", "presets"]):
        code, stdout, _ = invoke(capsys, *args, "--help")
        assert code == 0 and "Examples:" in stdout, args
    code, stdout, _ = invoke(capsys, "--help")
    assert code == 0 and "generate" in stdout


def test_cli_solver_choices_are_the_solvers():
    from openreel.cli.generate import SOLVER_CHOICES
    from openreel.models.spec import SOLVERS as SPEC_SOLVERS
    from openreel.sampling.solvers import SOLVERS

    assert set(SOLVER_CHOICES) == set(SOLVERS) == set(SPEC_SOLVERS)
