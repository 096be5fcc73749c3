"""A generation worker: a process that claims jobs, runs the model, and publishes files.

    python -m openreel.serve.worker --config '<ServeConfig JSON>' --model-id openreel-shapes

One job at a time: claim (lease taken) → generate, while a heartbeat thread renews the lease,
records progress and notices deletion → render the files into a scratch folder → publish them and
mark the job completed in one step that only the lease holder can take. SIGTERM gives the current
job back to the queue; SIGKILL leaves it to the lease, after which another worker retries it. A
worker whose parent server has gone exits by itself.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
import time
import traceback

from openreel.errors import Cancelled, InvalidInput
from openreel.serve.backends import VideoBackend, make_backend
from openreel.serve.config import ServeConfig
from openreel.serve.queue import Job, JobQueue, SQLiteQueue, new_worker_id
from openreel.serve.storage import VideoStore, safe_name

log = logging.getLogger("openreel.worker")
ENCODE_PROGRESS = 95  # progress once generation is done and the files are being written
REGISTRY_EVERY_S = 5.0


def progress_percent(fraction: float) -> int:
    """Generator progress (0..0.9, decoding ends at 0.9) as the job's 0..99 (100 only when published)."""
    return max(0, min(99, int(fraction * 100)))


class Heartbeat(threading.Thread):
    """Renews a job's lease and writes its progress; sets `lost` when the job is no longer ours."""

    def __init__(self, queue: JobQueue, job: Job, worker: str, lease_s: float):
        super().__init__(name=f"heartbeat-{job.id}", daemon=True)
        self.queue, self.job, self.worker, self.lease_s = queue, job, worker, lease_s
        self.interval = min(1.0, lease_s / 4)  # also how soon a DELETE stops the generation
        self.progress = 0
        self.lost = threading.Event()
        self._done = threading.Event()

    def run(self) -> None:
        last_registry = time.monotonic()
        while not self._done.wait(self.interval):
            try:
                if not self.queue.heartbeat(self.job.id, self.worker, self.progress, self.lease_s):
                    self.lost.set()
                    return
                if time.monotonic() - last_registry > REGISTRY_EVERY_S:
                    self.queue.register_worker(self.worker, self.job.model, "busy")
                    last_registry = time.monotonic()
            except Exception:  # a locked or unreachable database: try again next beat
                log.exception("heartbeat failed for %s", self.job.id)

    def stop(self) -> None:
        self._done.set()
        self.join()


class Worker:
    def __init__(self, queue: JobQueue, backend: VideoBackend, store: VideoStore, *, model_id: str,
                 worker_id: str | None = None, lease_s: float = 15.0, idle_poll_s: float = 0.2):
        self.queue, self.backend, self.store = queue, backend, store
        self.model_id = model_id
        self.id = worker_id or new_worker_id()
        self.lease_s = lease_s
        self.idle_poll_s = idle_poll_s
        self.stopping = threading.Event()  # set by SIGTERM: give the current job back

    def run(self, parent_pid: int | None = None) -> None:
        """Claim and process jobs until `stopping` is set (or the parent process is gone)."""
        self.queue.register_worker(self.id, self.model_id, "ready")
        last_registry = time.monotonic()
        try:
            while not self.stopping.is_set():
                if parent_pid is not None and os.getppid() != parent_pid:
                    log.warning("worker %s: the server (pid %d) is gone; exiting", self.id, parent_pid)
                    return
                try:
                    busy = self.run_once()
                except Exception:  # e.g. the database unreachable: log, wait, try again; never die holding nothing
                    log.exception("worker %s: claiming failed", self.id)
                    busy = False
                    self.stopping.wait(1.0)
                if not busy:
                    self.stopping.wait(self.idle_poll_s)
                if time.monotonic() - last_registry > REGISTRY_EVERY_S:
                    self.queue.register_worker(self.id, self.model_id, "ready")
                    last_registry = time.monotonic()
        finally:
            self.queue.unregister_worker(self.id)

    def run_once(self) -> bool:
        """Process one job if one is queued; False if none was."""
        job = self.queue.claim(self.id, [self.model_id], self.lease_s)
        if job is None:
            return False
        self.process(job)
        return True

    def process(self, job: Job) -> None:
        log.info("worker %s: %s attempt %d/%d", self.id, job.id, job.attempts, job.max_attempts)
        beat = Heartbeat(self.queue, job, self.id, self.lease_s)
        beat.start()
        scratch = None
        try:
            scratch = self.store.scratch(job.id, self.id, job.attempts)
            self._generate_and_publish(job, beat, scratch)
        except Cancelled:
            self._cancelled(job, beat)
        except InvalidInput as exc:  # the request cannot work on any attempt (e.g. a policy refusal)
            code = getattr(exc, "category", None) or "invalid_request"
            error = {"code": code, "message": str(exc), "param": exc.field,
                     "type": "policy_violation" if hasattr(exc, "category") else "invalid_request_error"}
            self.queue.fail(job.id, self.id, error, retry=False)
        except Exception as exc:  # a crash in the model or the encoder: retry while attempts remain
            log.error("worker %s: %s failed:\n%s", self.id, job.id, traceback.format_exc())
            error = {"code": "generation_failed", "message": f"{type(exc).__name__}: {exc}"}
            status = self.queue.fail(job.id, self.id, error, retry=True)
            log.info("worker %s: %s is now %s", self.id, job.id, status)
        finally:
            beat.stop()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    def _generate_and_publish(self, job: Job, beat: Heartbeat, scratch) -> None:
        def progress(fraction: float) -> None:
            beat.progress = progress_percent(fraction)

        def cancel() -> bool:
            return beat.lost.is_set() or self.stopping.is_set()

        rendered = self.backend.generate(job.settings, progress, cancel)
        beat.progress = ENCODE_PROGRESS
        record = rendered.save(scratch)
        write_previews(rendered.frames, scratch)
        if beat.lost.is_set():  # deleted while encoding (a shutdown now still publishes: the work is done)
            raise Cancelled("cancelled while encoding")
        if self.queue.complete(job.id, self.id, record, lambda: self.store.publish(scratch, job.id)):
            log.info("worker %s: %s completed", self.id, job.id)
        else:
            log.info("worker %s: %s was deleted or taken over; its files are discarded", self.id, job.id)

    def _cancelled(self, job: Job, beat: Heartbeat) -> None:
        if self.stopping.is_set() and not beat.lost.is_set():
            self.queue.release(job.id, self.id)
            log.info("worker %s: stopping; %s goes back to the queue", self.id, job.id)
        else:
            log.info("worker %s: %s was deleted (or its lease lost); stopped", self.id, job.id)


def write_previews(frames, folder) -> None:
    """`thumbnail.png` (the middle frame) and `spritesheet.png` (8 frames in a row)."""
    from openreel.video.io import contact_sheet, write_png

    write_png(frames[len(frames) // 2], folder / "thumbnail.png")
    write_png(contact_sheet(frames), folder / "spritesheet.png")


def sweep_scratch(queue: SQLiteQueue, store: VideoStore) -> int:
    """Remove attempt folders of jobs no longer running on the worker that made them."""
    running = {(j, safe_name(w)) for j, w in (
        (r["id"], r["worker"]) for r in queue.db.read("SELECT id, worker FROM jobs WHERE status = 'in_progress'"))}
    removed = 0
    for folder, job_id, worker in store.scratch_folders():
        if (job_id, worker) not in running:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenReel generation worker (started by `openreel serve`)")
    parser.add_argument("--config", required=True, help="ServeConfig as JSON")
    parser.add_argument("--model-id", required=True, help="served model id whose jobs to claim")
    parser.add_argument("--worker-id", help="unique id [default: host-pid-random]")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is no longer the parent")
    args = parser.parse_args(argv)
    config = ServeConfig.model_validate_json(args.config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    queue = SQLiteQueue(config.db_path)
    worker_id = args.worker_id or new_worker_id()
    queue.register_worker(worker_id, args.model_id, "loading")
    worker = Worker(queue, backend=None, store=VideoStore(config.data_dir), model_id=args.model_id,
                    worker_id=worker_id, lease_s=config.lease_s)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stopping.set())
    try:
        worker.backend = make_backend(config.backend, model=config.model, model_id=args.model_id,
                                      device=config.device, dtype=config.dtype, fake_step_s=config.fake_step_s)
    except BaseException:
        queue.unregister_worker(worker_id)
        raise
    log.info("worker %s ready (model %s, backend %s)", worker_id, args.model_id, config.backend)
    worker.run(parent_pid=args.parent_pid)


if __name__ == "__main__":
    main()
