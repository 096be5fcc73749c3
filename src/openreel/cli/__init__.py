"""The `openreel` command line.

Each subcommand lives in its own module and is imported only when it runs, so `openreel --help`
does not pay for importing torch. A user mistake (an `OpenReelError`) prints one line and exits
with the error's code; only a bug shows a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from openreel import __version__
from openreel.errors import OpenReelError

# name -> "module:attribute" of a click command or group
COMMANDS = {
    "generate": "openreel.cli.generate:generate",
    "model": "openreel.cli.model:model",
    "world": "openreel.world.cli:world",
    "eval": "openreel.eval.cli:eval_command",
    "compare": "openreel.eval.cli:compare_command",
    "train": "openreel.train.cli:train",
    "export": "openreel.train.cli:export_command",
    "serve": "openreel.serve.cli:serve",
    "keys": "openreel.serve.cli:keys",
    "verify": "openreel.provenance.cli:verify",
}


def quiet_libraries() -> None:
    """The CLI reports its own progress: no per-file load/save bars from the HF libraries
    (huggingface_hub and transformers read this variable; openreel.models applies it to diffusers)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="openreel")
def cli() -> None:
    """OpenReel: open text-to-video.

    \b
    Examples:
      openreel generate "a red ball falls and bounces on a black background" -o ball.mp4
      openreel generate --help
    """


def main(argv: list[str] | None = None) -> None:
    quiet_libraries()
    try:
        cli.main(args=argv, prog_name="openreel", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OpenReelError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(0)
