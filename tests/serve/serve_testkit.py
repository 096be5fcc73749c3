"""Helpers shared by the serve tests: an in-process app, in-thread fake workers, live servers."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from openreel.serve.backends import FakeBackend
from openreel.serve.config import ServeConfig
from openreel.serve.queue import NewJob, SQLiteQueue
from openreel.serve.storage import VideoStore
from openreel.serve.worker import Worker

MODEL_ID = "openreel-shapes"
REPO = Path(__file__).resolve().parents[2]
SMALL = {"size": "32x32", "seconds": "0.5"}  # 9 frames: fast with any backend


def wait_for(predicate, timeout: float = 30.0, every: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@functools.lru_cache(maxsize=None)
def tiny_model():
    """The tiny preset's facts, served as openreel-shapes (imports torch once per test process)."""
    from openreel.serve.model_facts import describe_model

    return describe_model("tiny", MODEL_ID)


def settings(**over) -> dict:
    """A resolved settings dict, as the API stores it, for queue-level tests."""
    base = dict(prompt="a red ball bounces", negative_prompt="", width=32, height=32, frames=9, fps=16.0, steps=4,
                guidance=5.0, seed=1, solver="euler", shift=3.0, text_len=256, sigmas=None)
    return base | over


def new_job(owner: str = "key_a", max_attempts: int = 3, **over) -> NewJob:
    s = settings(**over)
    return NewJob(owner=owner, model=MODEL_ID, params={"prompt": s["prompt"]}, settings=s, max_attempts=max_attempts)


class Server:
    """An app under `fastapi.testclient.TestClient`, with its queue, keys and two keys made."""

    def __init__(self, data_dir: Path, **config):
        from fastapi.testclient import TestClient

        from openreel.serve.app import create_app
        from openreel.serve.keys import KeyStore

        config.setdefault("backend", "fake")
        config.setdefault("poll_after_ms", 100)
        self.config = ServeConfig(data_dir=data_dir, **config)
        self.queue = SQLiteQueue(self.config.db_path)
        self.keys = KeyStore(self.config.db_path)
        self.store = VideoStore(data_dir)
        self.model = tiny_model()
        self.app = create_app(self.config, self.model, queue=self.queue, keys=self.keys)
        self.client = TestClient(self.app)
        self.client.__enter__()
        _, self.key_a = self.keys.create("alice")
        _, self.key_b = self.keys.create("bob")

    def headers(self, key: str | None = "a") -> dict[str, str]:
        secret = {"a": self.key_a, "b": self.key_b}.get(key, key)
        return {"Authorization": f"Bearer {secret}"} if secret else {}

    def post(self, key: str | None = "a", headers: dict | None = None, **kwargs):
        return self.client.post("/v1/videos", headers=self.headers(key) | (headers or {}), **kwargs)

    def get(self, path: str, key: str | None = "a", **kwargs):
        return self.client.get(path, headers=self.headers(key), **kwargs)

    def delete(self, path: str, key: str | None = "a"):
        return self.client.delete(path, headers=self.headers(key))

    def worker(self, step_s: float = 0.0, lease_s: float = 2.0) -> Worker:
        return Worker(self.queue, FakeBackend(MODEL_ID, step_s=step_s), self.store, model_id=MODEL_ID,
                      lease_s=lease_s, idle_poll_s=0.02)

    def close(self) -> None:
        self.client.__exit__(None, None, None)


@contextlib.contextmanager
def running(worker: Worker):
    """Run `worker.run()` in a thread for the duration of the block."""
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stopping.set()
        thread.join(30)


def worker_process(config: ServeConfig, worker_id: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "openreel.serve.worker", "--config", config.model_dump_json(),
                             "--model-id", MODEL_ID, "--worker-id", worker_id], stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`openreel serve` in a subprocess on 127.0.0.1, ready when its workers are."""

    def __init__(self, data_dir: Path, *args: str, workers: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log = open(data_dir.parent / f"server-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openreel", "serve", "--port", str(self.port), "--data-dir", str(data_dir),
             "--workers", str(workers), *args], stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=os.environ | {"PYTHONUNBUFFERED": "1"})
        try:
            wait_for(lambda: self.health().get("workers", {}).get("ready", 0) >= workers, timeout=120, every=0.2,
                     what="the server and its workers")
        except AssertionError:
            self.stop()
            raise AssertionError(f"server did not start:\n{self.output()}") from None

    def health(self) -> dict:
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.output()}")
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                return json.load(r)
        except OSError:
            return {}

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir.parent / f"server-{self.port}.log").read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
