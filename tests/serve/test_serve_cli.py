"""`openreel serve` and `openreel keys`: help, cheap import, and the key lifecycle."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def invoke(capsys, *args: str) -> tuple[int, str, str]:
    from openreel.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_every_serve_command_help_has_examples(capsys):
    for args in (["serve"], ["keys"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"]):
        code, stdout, _ = invoke(capsys, *args, "--help")
        assert code == 0 and "Examples:" in stdout, args


def test_cli_module_is_cheap_to_import():
    code = ("import sys, openreel.serve.cli; heavy = {'torch', 'fastapi', 'uvicorn', 'numpy'} & set(sys.modules); "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_key_lifecycle(capsys, tmp_path):
    data = ["--data-dir", str(tmp_path)]
    code, out, err = invoke(capsys, "keys", "create", "--name", "alice", *data)
    secret = out.strip()
    assert code == 0 and secret.startswith("ork_") and len(secret) > 40 and "shown only now" in err
    code, _, err = invoke(capsys, "keys", "create", "--name", "alice", *data)
    assert code == 2 and "already named 'alice'" in err
    code, out, _ = invoke(capsys, "keys", "list", "--json", *data)
    (listed,) = json.loads(out)
    assert listed["name"] == "alice" and secret not in out and listed["hint"] == secret[:10]
    assert secret not in (tmp_path / "openreel.db").read_bytes().decode("latin-1")  # only the hash is stored
    code, out, _ = invoke(capsys, "keys", "revoke", "alice", *data)
    assert code == 0 and listed["id"] in out
    code, _, err = invoke(capsys, "keys", "revoke", "alice", *data)
    assert code == 2 and "no active key" in err
    code, out, _ = invoke(capsys, "keys", "list", "--all", "--json", *data)
    assert json.loads(out)[0]["revoked_at"] is not None
