"""The server's worker processes: started, watched, restarted when they die, stopped at shutdown.

Workers are separate processes (`python -m openreel.serve.worker`), so a crash, an out-of-memory
kill or a SIGKILL of one never takes the API down, and the API process never loads a model. The
supervisor thread also reaps expired leases every second, so a dead worker's job returns to the
queue (or fails, out of attempts) even while no other worker is polling.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

from openreel.serve.config import ServeConfig
from openreel.serve.queue import SQLiteQueue, new_worker_id

log = logging.getLogger("openreel.serve")
MAX_BACKOFF_S = 30.0


def worker_env(config: ServeConfig) -> dict[str, str]:
    """The server's environment, with caches and temporary files kept inside the data directory."""
    cache, tmp = config.data_dir / "cache", config.data_dir / "tmp" / "proc"
    for folder in (cache, tmp):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return os.environ | {"XDG_CACHE_HOME": str(cache), "TMPDIR": str(tmp)}


class WorkerPool:
    def __init__(self, config: ServeConfig, model_id: str, queue: SQLiteQueue):
        self.config, self.model_id, self.queue = config, model_id, queue
        self.procs: list[subprocess.Popen | None] = [None] * config.workers
        self._restarts = [0] * config.workers
        self._next_start = [0.0] * config.workers
        self._started_at = [0.0] * config.workers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="worker-pool", daemon=True)

    def start(self) -> None:
        for slot in range(len(self.procs)):
            self._spawn(slot)
        self._thread.start()

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None and p.poll() is None]

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM every worker (each gives its job back to the queue), then SIGKILL stragglers."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        live = [p for p in self.procs if p is not None and p.poll() is None]
        for p in live:
            p.terminate()
        deadline = time.monotonic() + grace_s
        for p in live:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in %.0f s; killing it", p.pid, grace_s)
                p.kill()
                p.wait()

    def _spawn(self, slot: int) -> None:
        cmd = [sys.executable, "-m", "openreel.serve.worker", "--config", self.config.model_dump_json(),
               "--model-id", self.model_id, "--worker-id", f"{new_worker_id()}-w{slot}",
               "--parent-pid", str(os.getpid())]
        self.procs[slot] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=worker_env(self.config))
        self._started_at[slot] = time.monotonic()
        log.info("started worker %d (pid %d)", slot, self.procs[slot].pid)

    def _supervise(self) -> None:
        while not self._stop.wait(1.0):
            try:
                for job_id, status in self.queue.reap():
                    log.warning("job %s: its worker stopped responding; now %s", job_id, status)
            except Exception:
                log.exception("reaping expired leases failed")
            for slot, proc in enumerate(self.procs):
                if proc is not None and proc.poll() is not None and not self._stop.is_set():
                    self._restart_later(slot, proc.returncode)
                elif proc is None and time.monotonic() >= self._next_start[slot]:
                    self._spawn(slot)

    def _restart_later(self, slot: int, code: int) -> None:
        """Restart a dead worker after a backoff that doubles per consecutive quick death (1 s .. 30 s)."""
        quick = time.monotonic() - self._started_at[slot] < 60
        self._restarts[slot] = self._restarts[slot] + 1 if quick else 1
        delay = min(MAX_BACKOFF_S, 2 ** (self._restarts[slot] - 1))
        log.error("worker %d (pid %d) exited with %s; restarting in %.0f s", slot, self.procs[slot].pid, code, delay)
        self.procs[slot] = None
        self._next_start[slot] = time.monotonic() + delay
