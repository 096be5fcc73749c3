"""The durable job queue: what the API submits and workers claim, behind the `JobQueue` interface.

A job's life: `queued` → (claimed by one worker, which holds a lease it renews by heartbeat)
`in_progress` → `completed` or `failed`. A worker that stops heartbeating loses its lease; the
reaper puts the job back in the queue, up to the job's `max_attempts` claims, then fails it with
the reason. Only the lease holder may publish results, and it does so while holding the queue's
write lock, so a job is never completed twice and files are never published for a job someone else
now owns or that was deleted. Deleting a job is a soft delete (a tombstone keeps its
Idempotency-Key); its worker sees the deletion at its next heartbeat and stops.

`SQLiteQueue` is the embedded default. A shared PostgreSQL queue for many servers and GPU workers
implements the same interface: claims as `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
LOCKED) RETURNING *`, `complete` under `SELECT ... FOR UPDATE`.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol

from openreel.serve.db import Database

STATUSES = ("queued", "in_progress", "completed", "failed")
ACTIVE = ("queued", "in_progress")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,      -- submission order
  id TEXT NOT NULL UNIQUE,                    -- video_<32 hex>
  owner TEXT NOT NULL,                        -- API key id ("local" in --open mode)
  model TEXT NOT NULL,                        -- served model id
  status TEXT NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed', 'failed')),
  progress INTEGER NOT NULL DEFAULT 0,        -- 0..100
  params TEXT NOT NULL,                       -- the API request as given (JSON)
  settings TEXT NOT NULL,                     -- resolved generation settings (JSON)
  created_at REAL NOT NULL,                   -- unix seconds
  started_at REAL,
  completed_at REAL,
  worker TEXT,                                -- lease holder while in_progress
  lease_until REAL,
  attempts INTEGER NOT NULL DEFAULT 0,        -- claims so far
  max_attempts INTEGER NOT NULL,
  error TEXT,                                 -- JSON {code, message} once failed
  last_error TEXT,                            -- why the latest attempt ended, if it did not complete
  record TEXT,                                -- JSON generation record once completed
  idempotency_key TEXT,
  request_hash TEXT,
  deleted_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (owner, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (status, model, seq);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, seq);
CREATE TABLE IF NOT EXISTS workers (
  id TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  state TEXT NOT NULL,                        -- loading, ready, busy
  started_at REAL NOT NULL,
  seen_at REAL NOT NULL
)
"""


def new_job_id() -> str:
    return f"video_{uuid.uuid4().hex}"


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class NewJob:
    owner: str
    model: str
    params: dict  # what the client sent (the API's field names)
    settings: dict  # resolved generation settings (openreel.request.Settings as a dict)
    max_attempts: int
    idempotency_key: str | None = None
    request_hash: str | None = None
    id: str = field(default_factory=new_job_id)


@dataclass
class Job:
    id: str
    owner: str
    model: str
    status: str
    progress: int
    params: dict
    settings: dict
    created_at: float
    started_at: float | None
    completed_at: float | None
    worker: str | None
    lease_until: float | None
    attempts: int
    max_attempts: int
    error: dict | None
    last_error: dict | None
    record: dict | None
    idempotency_key: str | None
    request_hash: str | None
    deleted_at: float | None

    @classmethod
    def from_row(cls, row) -> Job:
        d = dict(row)
        d.pop("seq", None)
        for key in ("params", "settings", "error", "last_error", "record"):
            d[key] = json.loads(d[key]) if d[key] else ({} if key in ("params", "settings") else None)
        return cls(**d)


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request (or for a deleted video)."""

    def __init__(self, job: Job, reason: str):
        self.job = job
        self.reason = reason
        super().__init__(reason)


class TooManyActive(Exception):
    """The owner already has `limit` queued or running jobs."""

    def __init__(self, active: int, limit: int):
        self.active, self.limit = active, limit
        super().__init__(f"{active} videos queued or in progress; the limit is {limit}")


class UnknownCursor(Exception):
    """`after` names no video of this owner."""


class JobQueue(Protocol):
    """What the API and the workers need from a queue; SQLite now, a shared database later."""

    # API side
    def submit(self, job: NewJob, *, max_active: int | None = None) -> tuple[Job, bool]: ...
    def get(self, job_id: str, owner: str | None = None) -> Job | None: ...
    def list(self, owner: str, *, after: str | None = None, limit: int = 20,
             order: str = "desc") -> tuple[list[Job], bool]: ...
    def delete(self, job_id: str, owner: str) -> Job | None: ...
    def counts(self) -> dict[str, int]: ...
    # worker side
    def claim(self, worker: str, models: Iterable[str], lease_s: float) -> Job | None: ...
    def heartbeat(self, job_id: str, worker: str, progress: int, lease_s: float) -> bool: ...
    def complete(self, job_id: str, worker: str, record: dict, publish: Callable[[], None]) -> bool: ...
    def fail(self, job_id: str, worker: str, error: dict, *, retry: bool) -> str | None: ...
    def release(self, job_id: str, worker: str) -> bool: ...
    def reap(self, now: float | None = None) -> list[tuple[str, str]]: ...
    # worker registry (for /health)
    def register_worker(self, worker: str, model: str, state: str) -> None: ...
    def unregister_worker(self, worker: str) -> None: ...
    def live_workers(self, model: str | None = None, within_s: float = 30.0) -> list[dict]: ...


def _dumps(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SQLiteQueue:
    """`JobQueue` on one SQLite file (WAL); safe across threads and processes on one machine."""

    def __init__(self, path: Path):
        self.db = Database(path, SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ---- API side -------------------------------------------------------------------------
    def submit(self, job: NewJob, *, max_active: int | None = None) -> tuple[Job, bool]:
        """Insert `job`, or return the owner's earlier job with the same Idempotency-Key.

        The idempotency lookup, the active-job count and the insert share one write transaction,
        so concurrent retries make one job and concurrent submissions cannot exceed `max_active`.
        """
        with self.db.write() as conn:
            if job.idempotency_key is not None:
                row = conn.execute("SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?",
                                   (job.owner, job.idempotency_key)).fetchone()
                if row is not None:
                    earlier = Job.from_row(row)
                    if earlier.request_hash != job.request_hash:
                        raise IdempotencyConflict(earlier, "was already used with a different request")
                    if earlier.deleted_at is not None:
                        raise IdempotencyConflict(earlier, "was already used for a video that has been deleted")
                    return earlier, False
            if max_active is not None:
                (active,) = conn.execute(
                    "SELECT COUNT(*) FROM jobs WHERE owner = ? AND deleted_at IS NULL AND status IN (?, ?)",
                    (job.owner, *ACTIVE)).fetchone()
                if active >= max_active:
                    raise TooManyActive(active, max_active)
            row = conn.execute(
                "INSERT INTO jobs (id, owner, model, status, params, settings, created_at, max_attempts, "
                "idempotency_key, request_hash) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?) RETURNING *",
                (job.id, job.owner, job.model, _dumps(job.params), _dumps(job.settings), time.time(),
                 job.max_attempts, job.idempotency_key, job.request_hash)).fetchone()
        return Job.from_row(row), True

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, if it exists, is not deleted and (when `owner` is given) belongs to `owner`."""
        rows = self.db.read("SELECT * FROM jobs WHERE id = ? AND deleted_at IS NULL", (job_id,))
        if not rows or (owner is not None and rows[0]["owner"] != owner):
            return None
        return Job.from_row(rows[0])

    def list(self, owner: str, *, after: str | None = None, limit: int = 20,
             order: str = "desc") -> tuple[list[Job], bool]:
        """One page of the owner's jobs by submission order, and whether more follow."""
        direction, compare = ("DESC", "<") if order == "desc" else ("ASC", ">")
        where, params = "owner = ? AND deleted_at IS NULL", [owner]
        if after is not None:
            cursor = self.db.read("SELECT seq FROM jobs WHERE id = ? AND owner = ?", (after, owner))
            if not cursor:
                raise UnknownCursor(after)
            where += f" AND seq {compare} ?"
            params.append(cursor[0]["seq"])
        rows = self.db.read(f"SELECT * FROM jobs WHERE {where} ORDER BY seq {direction} LIMIT ?", (*params, limit + 1))
        return [Job.from_row(r) for r in rows[:limit]], len(rows) > limit

    def delete(self, job_id: str, owner: str) -> Job | None:
        """Tombstone the job (a running one is cancelled at its worker's next heartbeat)."""
        with self.db.write() as conn:
            row = conn.execute("UPDATE jobs SET deleted_at = ? WHERE id = ? AND owner = ? AND deleted_at IS NULL "
                               "RETURNING *", (time.time(), job_id, owner)).fetchone()
        return Job.from_row(row) if row else None

    def deleted_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are deleted or unknown (their files may go)."""
        ids = list(ids)
        live = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            live |= {r["id"] for r in self.db.read(
                f"SELECT id FROM jobs WHERE deleted_at IS NULL AND id IN ({marks})", tuple(chunk))}
        return set(ids) - live

    def counts(self) -> dict[str, int]:
        rows = self.db.read("SELECT status, COUNT(*) AS n FROM jobs WHERE deleted_at IS NULL GROUP BY status")
        return {s: 0 for s in STATUSES} | {r["status"]: r["n"] for r in rows}

    # ---- worker side ----------------------------------------------------------------------
    def claim(self, worker: str, models: Iterable[str], lease_s: float) -> Job | None:
        """Atomically take the oldest queued job of one of `models` (after reaping lost leases)."""
        models = list(models)
        marks = ",".join("?" * len(models))
        now = time.time()
        with self.db.write() as conn:
            self._reap(conn, now)
            row = conn.execute(
                "UPDATE jobs SET status = 'in_progress', worker = ?, lease_until = ?, attempts = attempts + 1, "
                "progress = 0, started_at = COALESCE(started_at, ?) "
                "WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' AND deleted_at IS NULL "
                f"AND model IN ({marks}) ORDER BY seq LIMIT 1) RETURNING *",
                (worker, now + lease_s, now, *models)).fetchone()
        return Job.from_row(row) if row else None

    def heartbeat(self, job_id: str, worker: str, progress: int, lease_s: float) -> bool:
        """Renew the lease and record progress; False when the job is no longer this worker's to run."""
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET lease_until = ?, progress = MAX(progress, ?) WHERE id = ? AND worker = ? "
                "AND status = 'in_progress' AND deleted_at IS NULL", (time.time() + lease_s, progress, job_id, worker))
        return cur.rowcount == 1

    def complete(self, job_id: str, worker: str, record: dict, publish: Callable[[], None]) -> bool:
        """If the job is still this worker's, run `publish` (move files into place) and mark it completed.

        `publish` runs inside the write transaction: nobody can requeue, claim or delete the job
        between the ownership check and the status change. If it raises, nothing changes.
        """
        with self.db.write() as conn:
            owned = conn.execute("SELECT 1 FROM jobs WHERE id = ? AND worker = ? AND status = 'in_progress' "
                                 "AND deleted_at IS NULL", (job_id, worker)).fetchone()
            if owned is None:
                return False
            publish()
            conn.execute("UPDATE jobs SET status = 'completed', progress = 100, completed_at = ?, record = ?, "
                         "lease_until = NULL, last_error = NULL WHERE id = ?", (time.time(), _dumps(record), job_id))
        return True

    def fail(self, job_id: str, worker: str, error: dict, *, retry: bool) -> str | None:
        """End this worker's attempt with `error`: back to the queue if `retry` and attempts remain, else failed.

        Returns the job's new status, or None if the job was no longer this worker's.
        """
        with self.db.write() as conn:
            row = conn.execute("SELECT attempts, max_attempts FROM jobs WHERE id = ? AND worker = ? "
                               "AND status = 'in_progress' AND deleted_at IS NULL", (job_id, worker)).fetchone()
            if row is None:
                return None
            if retry and row["attempts"] < row["max_attempts"]:
                conn.execute("UPDATE jobs SET status = 'queued', worker = NULL, lease_until = NULL, progress = 0, "
                             "last_error = ? WHERE id = ?", (_dumps(error), job_id))
                return "queued"
            conn.execute("UPDATE jobs SET status = 'failed', worker = NULL, lease_until = NULL, completed_at = ?, "
                         "error = ?, last_error = ? WHERE id = ?", (time.time(), _dumps(error), _dumps(error), job_id))
            return "failed"

    def release(self, job_id: str, worker: str) -> bool:
        """Give a job back untouched (worker shutting down); the attempt does not count."""
        with self.db.write() as conn:
            cur = conn.execute("UPDATE jobs SET status = 'queued', worker = NULL, lease_until = NULL, progress = 0, "
                               "attempts = MAX(attempts - 1, 0) WHERE id = ? AND worker = ? AND status = 'in_progress'",
                               (job_id, worker))
        return cur.rowcount == 1

    def reap(self, now: float | None = None) -> list[tuple[str, str]]:
        """Requeue (or, out of attempts, fail) jobs whose lease ran out; returns (id, new status) pairs."""
        with self.db.write() as conn:
            return self._reap(conn, time.time() if now is None else now)

    @staticmethod
    def _reap(conn, now: float) -> list[tuple[str, str]]:
        expired = conn.execute("SELECT id, worker, attempts, max_attempts FROM jobs "
                               "WHERE status = 'in_progress' AND lease_until < ?", (now,)).fetchall()
        out = []
        for row in expired:
            lost = {"code": "worker_lost", "message": f"worker {row['worker']} stopped responding (lease expired)"}
            if row["attempts"] < row["max_attempts"]:
                conn.execute("UPDATE jobs SET status = 'queued', worker = NULL, lease_until = NULL, progress = 0, "
                             "last_error = ? WHERE id = ?", (_dumps(lost), row["id"]))
                out.append((row["id"], "queued"))
            else:
                final = dict(lost, message=f"the worker running this video stopped responding on each of "
                                           f"{row['attempts']} attempts; giving up (last: {row['worker']})")
                conn.execute("UPDATE jobs SET status = 'failed', worker = NULL, lease_until = NULL, completed_at = ?, "
                             "error = ?, last_error = ? WHERE id = ?", (now, _dumps(final), _dumps(lost), row["id"]))
                out.append((row["id"], "failed"))
        return out

    # ---- worker registry ------------------------------------------------------------------
    def register_worker(self, worker: str, model: str, state: str) -> None:
        now = time.time()
        with self.db.write() as conn:
            conn.execute("INSERT INTO workers (id, model, host, pid, state, started_at, seen_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
                         "seen_at = excluded.seen_at",
                         (worker, model, socket.gethostname(), os.getpid(), state, now, now))

    def unregister_worker(self, worker: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM workers WHERE id = ?", (worker,))

    def live_workers(self, model: str | None = None, within_s: float = 30.0) -> list[dict]:
        rows = self.db.read("SELECT * FROM workers WHERE seen_at > ? AND (? IS NULL OR model = ?) ORDER BY started_at",
                            (time.time() - within_s, model, model))
        return [dict(r) for r in rows]
