"""Worker processes: SIGKILL mid-job, graceful stop, supervision, and a server restart with queued jobs."""

from __future__ import annotations

import os
import signal

from serve_testkit import MODEL_ID, SMALL, Server, new_job, wait_for, worker_process

from openreel.serve.config import ServeConfig
from openreel.serve.pool import WorkerPool
from openreel.serve.queue import SQLiteQueue
from openreel.serve.storage import VideoStore
from openreel.video.io import read_video


def config(tmp_path, **over) -> ServeConfig:
    return ServeConfig(data_dir=tmp_path / "data", backend="fake", lease_s=1.5, **over)


def test_worker_killed_mid_job_is_requeued_and_completed_by_another(tmp_path):
    cfg = config(tmp_path, fake_step_s=0.1)
    queue = SQLiteQueue(cfg.db_path)
    job, _ = queue.submit(new_job(steps=20, seed=5))  # 2 s of fake denoising
    victim = worker_process(cfg, "victim")
    try:
        wait_for(lambda: (j := queue.get(job.id)).worker == "victim" and j.progress > 0, timeout=60,
                 what="the first worker to make progress")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        assert queue.get(job.id).status == "in_progress"  # nobody knows yet: the lease says so later
        rescuer = worker_process(cfg, "rescuer")
        try:
            done = wait_for(lambda: (j := queue.get(job.id)).status == "completed" and j, timeout=60,
                            what="the second worker to complete the job")
        finally:
            rescuer.terminate()
            rescuer.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert done.worker == "rescuer" and done.attempts == 2 and done.record["settings"]["seed"] == 5
    store = VideoStore(cfg.data_dir)
    assert read_video(store.file(job.id, "video")).frames.shape == (9, 32, 32, 3)
    assert list(store.tmp.iterdir()) == []  # the killed attempt's scratch folder went with the new claim


def test_sigterm_gives_the_running_job_back(tmp_path):
    cfg = config(tmp_path, fake_step_s=0.1)
    queue = SQLiteQueue(cfg.db_path)
    job, _ = queue.submit(new_job(steps=100))
    proc = worker_process(cfg, "polite")
    wait_for(lambda: queue.get(job.id).progress > 0, timeout=60, what="progress")
    proc.terminate()
    assert proc.wait(10) == 0
    back = queue.get(job.id)
    assert back.status == "queued" and back.attempts == 0 and back.worker is None
    assert queue.live_workers() == []  # unregistered on the way out


def test_restart_with_queued_and_running_jobs_loses_nothing(tmp_path):
    """Jobs queued (and one running) when a server stops are all completed after it starts again."""
    first = Server(tmp_path / "data")  # no workers: everything stays queued
    ids = [first.post(json={"prompt": f"ball {i}", **SMALL}).json()["id"] for i in range(4)]
    first.queue.claim("crashed-worker", [MODEL_ID], lease_s=1.0)  # was running when the server died
    first.close()
    first.queue.close()

    cfg = config(tmp_path, workers=2, fake_step_s=0.0)
    queue = SQLiteQueue(cfg.db_path)
    assert sorted(j.status for j in queue.list(first.keys.list()[0].id)[0]) == ["in_progress"] + ["queued"] * 3
    pool = WorkerPool(cfg, MODEL_ID, queue)
    pool.start()
    try:
        wait_for(lambda: all(queue.get(i).status == "completed" for i in ids), timeout=60, what="all jobs")
        assert sorted(queue.get(i).attempts for i in ids) == [1, 1, 1, 2]  # the crashed one ran again, once
        victim = pool.pids()[0]
        os.kill(victim, signal.SIGKILL)  # the supervisor restarts a dead worker
        wait_for(lambda: len(pool.pids()) == 2 and victim not in pool.pids(), timeout=30, what="a restart")
    finally:
        pool.stop()
    assert pool.pids() == []
