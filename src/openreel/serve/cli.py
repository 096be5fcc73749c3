"""`openreel serve` and `openreel keys`. Cheap to import: FastAPI, uvicorn and torch load inside the commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

DATA_DIR_HELP = "server state (database, videos) [default: $OPENREEL_DATA_DIR or ~/.local/share/openreel]"


def _data_dir(value: Path | None) -> Path:
    from openreel.serve.config import default_data_dir

    return (value or default_data_dir()).expanduser()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(0), default=1, show_default=True,
              help="generation worker processes; each loads the model (0: only the API, for external workers)")
@click.option("-m", "--model", default="default", show_default=True,
              help="model folder (diffusers layout) or preset name, as for `openreel generate`")
@click.option("--served-model-name", help="the id clients send as `model` [default: openreel-shapes for the "
                                          "default model, else the model's name]")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=DATA_DIR_HELP)
@click.option("--open", "open_mode", is_flag=True, help="no API keys: anyone who can reach the port may use it "
                                                        "(local demos only; logged loudly)")
@click.option("--device", help="workers' device: cpu, cuda, cuda:1 ... [default: cuda if available]")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), help="workers' weights dtype")
@click.option("--backend", type=click.Choice(["real", "fake"]), default="real", show_default=True,
              help="fake: synthetic videos without a model (tests, benchmarks, trying the API)")
@click.option("--fake-step-seconds", type=click.FloatRange(0), default=0.05, show_default=True,
              help="fake backend: seconds per denoising step")
@click.option("--rpm", type=click.IntRange(1), default=600, show_default=True, help="requests per minute per key")
@click.option("--max-active-jobs", type=click.IntRange(1), default=4, show_default=True,
              help="queued + running videos per key")
@click.option("--max-upload-mb", type=click.FloatRange(0, min_open=True), default=10.0, show_default=True,
              help="largest input_reference image")
@click.option("--lease-seconds", type=click.FloatRange(1), default=15.0, show_default=True,
              help="a worker silent this long loses its job, which is retried")
@click.option("--max-attempts", type=click.IntRange(1), default=3, show_default=True,
              help="tries of one video before it fails")
@click.option("--poll-after-ms", type=click.IntRange(0), default=1000, show_default=True,
              help="polling interval suggested to clients (openai-poll-after-ms)")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
def serve(host: str, port: int, workers: int, model: str, served_model_name: str | None, data_dir: Path | None,
          open_mode: bool, device: str | None, dtype: str | None, backend: str, fake_step_seconds: float, rpm: int,
          max_active_jobs: int, max_upload_mb: float, lease_seconds: float, max_attempts: int, poll_after_ms: int,
          log_level: str) -> None:
    """Serve the OpenAI-style video API and the web page at http://HOST:PORT/.

    Clients use the `openai` SDK (`client.videos.create_and_poll(...)`) or plain HTTP with
    'Authorization: Bearer <key>' (keys from `openreel keys create`). Jobs wait in a SQLite queue
    in the data directory and survive restarts; workers are separate processes. OpenAPI docs are
    at /docs. Limits on size, frames, steps and prompt length come from OPENREEL_MAX_PIXELS,
    OPENREEL_MAX_FRAMES, OPENREEL_MAX_STEPS and OPENREEL_MAX_PROMPT_CHARS.

    \b
    Examples:
      openreel keys create --name alice
      openreel serve --host 127.0.0.1 --port 8000 --workers 1
      openreel serve --open --port 8000                     # local demo without keys
      openreel serve --model /models/Wan2.1-T2V-1.3B-Diffusers --served-model-name wan2.1-1.3b --device cuda
      openreel serve --backend fake --workers 2 --data-dir /tmp/openreel-try
    """
    import logging
    import warnings

    import uvicorn

    from openreel.serve.app import create_app
    from openreel.serve.config import MiB, ServeConfig
    from openreel.serve.model_facts import describe_model
    from openreel.serve.pool import WorkerPool
    from openreel.serve.queue import SQLiteQueue

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = ServeConfig(data_dir=_data_dir(data_dir), host=host, port=port, model=model,
                         served_model_name=served_model_name, device=device, dtype=dtype, backend=backend,
                         fake_step_s=fake_step_seconds,
                         workers=workers, lease_s=lease_seconds, max_attempts=max_attempts, poll_after_ms=poll_after_ms,
                         open=open_mode, requests_per_minute=rpm, max_active_jobs=max_active_jobs,
                         max_upload_bytes=int(max_upload_mb * MiB))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        facts = describe_model(config.model)
    for w in caught:
        logging.getLogger("openreel.serve").warning("%s", w.message)
    facts.id = config.served_name(facts.spec_name)
    logging.getLogger("openreel.serve").info("serving %s as %r from %s (data: %s, %d workers, backend %s)",
                                             facts.source, facts.id, host, config.data_dir, workers, backend)
    queue = SQLiteQueue(config.db_path)
    pool = WorkerPool(config, facts.id, queue) if workers else None
    app = create_app(config, facts, queue=queue, pool=pool)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=15)


@click.group()
def keys() -> None:
    """Create, list and revoke API keys for `openreel serve`.

    A key is shown once, when it is made; the server stores only its SHA-256 hash. Every video
    belongs to the key that made it, and other keys cannot see it.

    \b
    Examples:
      openreel keys create --name alice
      openreel keys list
      openreel keys revoke alice
    """


def _store(data_dir: Path | None):
    from openreel.serve.keys import KeyStore

    return KeyStore(_data_dir(data_dir) / "openreel.db")


@keys.command("create")
@click.option("--name", required=True, help="who or what the key is for (unique among active keys)")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=DATA_DIR_HELP)
def keys_create(name: str, data_dir: Path | None) -> None:
    """Make a key and print it once (the key alone on stdout, so `KEY=$(...)` works).

    \b
    Examples:
      openreel keys create --name alice
      KEY=$(openreel keys create --name ci-bot --data-dir /srv/openreel)
    """
    key, secret = _store(data_dir).create(name)
    click.echo(f"created key {key.id} ({key.name}); it is shown only now, store it safely:", err=True)
    click.echo(secret)


@keys.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="include revoked keys")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=DATA_DIR_HELP)
def keys_list(include_revoked: bool, as_json: bool, data_dir: Path | None) -> None:
    """List keys (id, name, the key's first characters, dates); never the keys themselves.

    \b
    Examples:
      openreel keys list
      openreel keys list --all --json
    """
    rows = _store(data_dir).list(include_revoked)
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    if not rows:
        click.echo("no keys yet: openreel keys create --name NAME", err=True)
        return
    click.echo(f"{'id':<17} {'name':<20} {'key starts':<12} {'created':<17} {'last used':<17} revoked")
    for r in rows:
        click.echo(f"{r.id:<17} {r.name:<20} {r.hint + '…':<12} {_when(r.created_at):<17} {_when(r.last_used_at):<17} "
                   f"{_when(r.revoked_at) if r.revoked_at else ''}")


@keys.command("revoke")
@click.argument("key")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=DATA_DIR_HELP)
def keys_revoke(key: str, data_dir: Path | None) -> None:
    """Revoke KEY (its id or name): it stops working at once. Its videos stay on disk.

    \b
    Examples:
      openreel keys revoke alice
      openreel keys revoke key_3f2a9c1b7d4e
    """
    revoked = _store(data_dir).revoke(key)
    click.echo(f"revoked {revoked.id} ({revoked.name})")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"
