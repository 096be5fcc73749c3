"""`openreel verify FILE...`: C2PA state, watermark and local record of each file; exit 0/2/3."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the full report as JSON (a list for several files)")
def verify(files: tuple[Path, ...], as_json: bool) -> None:
    """Check whether each FILE is an OpenReel video, and whether it is intact.

    \b
    Reports the C2PA manifest (trusted / untrusted signer / INVALID with the reason / missing),
    the invisible watermark (payload, confidence, frames voted), and the local generation record
    when the watermark's content id is known on this machine.

    \b
    Exit code: 0 verified (trusted C2PA or a found watermark), 2 not OpenReel / nothing found,
    3 tampered (invalid C2PA). With several files, the worst one decides (3 over 2 over 0).

    \b
    Examples:
      openreel verify v.mp4
      openreel verify --json clips/*.mp4 > reports.json
    """
    from openreel.provenance.verify import verify_file

    reports = [verify_file(f) for f in files]
    if as_json:
        data = [r.model_dump() for r in reports]
        click.echo(json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2))
    else:
        for r in reports:
            click.echo(r.line())
    worst = max((r.exit_code for r in reports), key=lambda code: {0: 0, 2: 1, 3: 2}[code])
    sys.exit(worst)  # not click's Exit: in non-standalone mode click turns that into a return value
