"""The SQLite job queue on its own: atomic claims, leases, bounded retries, ownership, restarts."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest
from serve_testkit import MODEL_ID, new_job

from openreel.serve.queue import IdempotencyConflict, SQLiteQueue, TooManyActive, UnknownCursor


@pytest.fixture
def queue(tmp_path):
    q = SQLiteQueue(tmp_path / "openreel.db")
    yield q
    q.close()


def test_database_is_wal_and_survives_reopening(tmp_path):
    q = SQLiteQueue(tmp_path / "openreel.db")
    ids = [q.submit(new_job(prompt=f"p{i}"))[0].id for i in range(3)]
    assert q.db.read("PRAGMA journal_mode")[0][0] == "wal"
    q.close()
    reopened = SQLiteQueue(tmp_path / "openreel.db")  # a server restart
    assert [j.id for j in reopened.list("key_a", order="asc")[0]] == ids
    assert all(j.status == "queued" for j in reopened.list("key_a")[0])
    assert reopened.claim("w", [MODEL_ID], 10).id == ids[0]  # submission order


def _claim_all(path: str, worker: str, out) -> None:
    q = SQLiteQueue(path)
    while (job := q.claim(worker, [MODEL_ID], 60)) is not None:
        out.put((job.id, worker))
    q.close()


def test_concurrent_claims_from_processes_take_each_job_once(tmp_path):
    q = SQLiteQueue(tmp_path / "openreel.db")
    ids = {q.submit(new_job(prompt=f"p{i}"))[0].id for i in range(40)}
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(str(tmp_path / "openreel.db"), f"w{i}", out)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    claimed = [out.get(timeout=5) for _ in range(40)]
    assert sorted(i for i, _ in claimed) == sorted(ids)  # every job once, none twice
    assert out.empty()
    assert {j.worker for j in q.list("key_a", limit=100)[0]} == {w for _, w in claimed}


def test_claim_is_atomic_across_threads(queue):
    for i in range(30):
        queue.submit(new_job(prompt=f"p{i}"))
    got: list[str] = []
    lock = threading.Lock()

    def claim(worker):
        while (job := queue.claim(worker, [MODEL_ID], 60)) is not None:
            with lock:
                got.append(job.id)

    threads = [threading.Thread(target=claim, args=(f"t{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == len(set(got)) == 30


def test_claim_only_takes_its_models(queue):
    queue.submit(new_job())
    assert queue.claim("w", ["other-model"], 10) is None
    assert queue.claim("w", [MODEL_ID], 10) is not None


def test_expired_lease_is_requeued_then_failed_after_max_attempts(queue):
    job, _ = queue.submit(new_job(max_attempts=2))
    first = queue.claim("w1", [MODEL_ID], lease_s=10)
    assert first.attempts == 1
    assert queue.reap(now=time.time() + 11) == [(job.id, "queued")]
    again = queue.get(job.id)
    assert again.status == "queued" and again.last_error["code"] == "worker_lost" and again.error is None
    second = queue.claim("w2", [MODEL_ID], lease_s=10)
    assert second.attempts == 2
    assert queue.reap(now=time.time() + 11) == [(job.id, "failed")]
    failed = queue.get(job.id)
    assert failed.status == "failed" and failed.error["code"] == "worker_lost"
    assert "2 attempts" in failed.error["message"] and failed.completed_at is not None
    assert queue.claim("w3", [MODEL_ID], 10) is None  # never lost, never run again


def test_heartbeat_keeps_the_lease_and_records_progress(queue):
    job, _ = queue.submit(new_job())
    queue.claim("w", [MODEL_ID], lease_s=1)
    assert queue.heartbeat(job.id, "w", 40, lease_s=30)
    assert queue.reap(now=time.time() + 5) == []  # renewed past 5 s
    assert queue.get(job.id).progress == 40
    assert queue.heartbeat(job.id, "w", 10, lease_s=30) and queue.get(job.id).progress == 40  # never goes back


def test_a_worker_that_lost_its_lease_cannot_publish(queue):
    """A stalled worker whose job was given to another can neither heartbeat nor complete it."""
    job, _ = queue.submit(new_job())
    queue.claim("stalled", [MODEL_ID], lease_s=1)
    queue.reap(now=time.time() + 2)
    queue.claim("fresh", [MODEL_ID], lease_s=30)
    published = []
    assert not queue.heartbeat(job.id, "stalled", 50, 30)
    assert not queue.complete(job.id, "stalled", {"r": 1}, lambda: published.append("stalled"))
    assert queue.complete(job.id, "fresh", {"r": 2}, lambda: published.append("fresh"))
    assert published == ["fresh"]
    done = queue.get(job.id)
    assert done.status == "completed" and done.record == {"r": 2} and done.progress == 100


def test_publish_failure_leaves_the_job_running(queue):
    job, _ = queue.submit(new_job())
    queue.claim("w", [MODEL_ID], 30)

    def broken():
        raise OSError("disk full")

    with pytest.raises(OSError):
        queue.complete(job.id, "w", {}, broken)
    assert queue.get(job.id).status == "in_progress"


def test_fail_retries_then_fails_and_release_does_not_count(queue):
    job, _ = queue.submit(new_job(max_attempts=2))
    queue.claim("w", [MODEL_ID], 30)
    assert queue.release(job.id, "w")  # shutdown: back untouched
    assert queue.get(job.id).attempts == 0
    queue.claim("w", [MODEL_ID], 30)
    assert queue.fail(job.id, "w", {"code": "generation_failed", "message": "boom"}, retry=True) == "queued"
    queue.claim("w", [MODEL_ID], 30)
    assert queue.fail(job.id, "w", {"code": "generation_failed", "message": "boom"}, retry=True) == "failed"
    assert queue.get(job.id).error["message"] == "boom"
    assert queue.fail(job.id, "w", {"code": "x", "message": "y"}, retry=True) is None  # not running any more


def test_delete_stops_heartbeat_and_publishing(queue):
    job, _ = queue.submit(new_job())
    queue.claim("w", [MODEL_ID], 30)
    assert queue.delete(job.id, "someone_else") is None
    assert queue.delete(job.id, "key_a").id == job.id
    assert queue.get(job.id) is None
    assert not queue.heartbeat(job.id, "w", 10, 30)
    assert not queue.complete(job.id, "w", {}, lambda: pytest.fail("published a deleted job"))
    assert queue.delete(job.id, "key_a") is None


def test_idempotency_key_returns_the_same_job(queue):
    a, created_a = _submit_idem(queue, "k1", "h1")
    b, created_b = _submit_idem(queue, "k1", "h1")
    assert (created_a, created_b) == (True, False) and a.id == b.id
    with pytest.raises(IdempotencyConflict, match="different request"):
        _submit_idem(queue, "k1", "h2")
    other, created = _submit_idem(queue, "k1", "h1", owner="key_b")  # keys are per owner
    assert created and other.id != a.id
    queue.delete(a.id, "key_a")
    with pytest.raises(IdempotencyConflict, match="deleted"):
        _submit_idem(queue, "k1", "h1")


def _submit_idem(queue, key, digest, owner="key_a"):
    job = new_job(owner=owner)
    job.idempotency_key, job.request_hash = key, digest
    return queue.submit(job)


def test_concurrent_retries_with_one_idempotency_key_make_one_job(queue):
    ids, lock = [], threading.Lock()

    def post():
        job, _ = _submit_idem(queue, "same", "h")
        with lock:
            ids.append(job.id)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(queue.list("key_a")[0]) == 1


def test_max_active_counts_queued_and_running(queue):
    queue.submit(new_job(), max_active=2)
    queue.submit(new_job(), max_active=2)
    queue.claim("w", [MODEL_ID], 30)
    with pytest.raises(TooManyActive, match="limit is 2"):
        queue.submit(new_job(), max_active=2)
    queue.submit(new_job(owner="key_b"), max_active=2)  # per owner


def test_list_pages_by_cursor_in_both_orders(queue):
    ids = [queue.submit(new_job())[0].id for _ in range(5)]
    page, more = queue.list("key_a", limit=2, order="asc")
    assert [j.id for j in page] == ids[:2] and more
    page, more = queue.list("key_a", after=ids[1], limit=2, order="asc")
    assert [j.id for j in page] == ids[2:4] and more
    page, more = queue.list("key_a", after=ids[3], limit=2, order="asc")
    assert [j.id for j in page] == ids[4:] and not more
    page, _ = queue.list("key_a", limit=2)
    assert [j.id for j in page] == ids[::-1][:2]
    with pytest.raises(UnknownCursor):
        queue.list("key_b", after=ids[0])  # another owner's id is no cursor
