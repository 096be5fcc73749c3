"""`openreel serve` with the fake backend: API overhead per request, and 100 concurrent submissions.

1. Overhead: a server with no workers (so nothing competes for the CPU) answers sequential
   requests over one keep-alive connection, with an API key: POST /v1/videos (validation against
   the model's grid and tokenizer, SQLite insert), GET /v1/videos/{id}, GET /v1/videos, and
   GET /health as the HTTP floor.
2. Concurrency: 100 clients submit at the same instant to a server with 2 fake workers, then
   each polls its video as `create_and_poll` does (at the server's openai-poll-after-ms). Checks
   that every video completes, exactly once (one claim each, distinct ids, one output folder per
   id whose record carries that client's prompt), and reports latency percentiles: submission,
   end to end as the client saw it, and queue wait / total from the server's own timestamps.

    python benchmarks/serve.py            # writes benchmarks/results/serve.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import httpx

from openreel import __version__

BODY = {"model": "openreel-shapes", "prompt": "a red ball bounces", "size": "64x64", "seconds": "0.5",
        "num_inference_steps": 10}


def percentiles(samples_s: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples_s)

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, round(p / 100 * (len(ms) - 1)))], 2)

    return {"n": len(ms), "median_ms": round(statistics.median(ms), 2), "p50_ms": pct(50), "p95_ms": pct(95),
            "p99_ms": pct(99), "max_ms": round(ms[-1], 2), "mean_ms": round(statistics.fmean(ms), 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data: Path, *args: str, workers: int):
        from openreel.serve.keys import KeyStore

        _, self.key = KeyStore(data / "openreel.db").create("bench")
        self.url = f"http://127.0.0.1:{free_port()}"
        self.data = data
        self.log = open(data.parent / "server.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openreel", "serve", "--port", self.url.rsplit(":", 1)[1], "--data-dir", str(data),
             "--workers", str(workers), "--backend", "fake", "--model", "tiny", "--served-model-name",
             "openreel-shapes", "--rpm", "1000000", "--max-active-jobs", "1000000", "--log-level", "warning", *args],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if json.load(r)["workers"]["ready"] >= workers:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: {(data.parent / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
        raise SystemExit("server did not start")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - start)
    return out


def bench_overhead(tmp: Path, n: int) -> dict:
    server = Server(tmp / "overhead" / "data", workers=0)
    try:
        with server.client() as c:
            ids: list[str] = []

            def post(i):
                r = c.post("/v1/videos", json=BODY | {"prompt": f"a red ball bounces {i}"})
                r.raise_for_status()
                ids.append(r.json()["id"])

            timed(post, 30)  # warm-up (first requests import and cache)
            results = {"post_video": percentiles(timed(post, n))}
            results["get_video"] = percentiles(timed(lambda i: c.get(f"/v1/videos/{ids[i]}").raise_for_status(), n))
            results["list_videos_20"] = percentiles(timed(lambda i: c.get("/v1/videos").raise_for_status(), n))
            results["health_no_auth"] = percentiles(timed(lambda i: c.get("/health").raise_for_status(), n))
        return results
    finally:
        server.stop()


def bench_concurrent(tmp: Path, clients: int, workers: int, step_s: float) -> dict:
    data = tmp / "concurrent" / "data"
    data.parent.mkdir(parents=True)
    server = Server(data, "--fake-step-seconds", str(step_s), "--poll-after-ms", "500", workers=workers)
    barrier = threading.Barrier(clients)
    submit_s, e2e_s, ids, errors = [None] * clients, [None] * clients, [None] * clients, []

    def client(i: int) -> None:
        try:
            with server.client() as c:
                barrier.wait()
                start = time.perf_counter()
                r = c.post("/v1/videos", json=BODY | {"prompt": f"client {i}: a red ball bounces"})
                submit_s[i] = time.perf_counter() - start
                r.raise_for_status()
                ids[i] = r.json()["id"]
                while True:  # as the SDK's create_and_poll
                    time.sleep(int(r.headers["openai-poll-after-ms"]) / 1000)
                    r = c.get(f"/v1/videos/{ids[i]}")
                    r.raise_for_status()
                    if r.json()["status"] in ("completed", "failed"):
                        break
                e2e_s[i] = time.perf_counter() - start
                if r.json()["status"] != "completed":
                    errors.append(f"client {i}: {r.json()['error']}")
        except Exception as exc:  # reported, not raised: the run must finish to be checked
            errors.append(f"client {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    wall = time.perf_counter() - wall
    server.stop()
    checks = check_exactly_once(data, ids, clients)
    rows = checks.pop("rows")
    return {
        "clients": clients, "workers": workers, "fake_step_s": step_s, "request": BODY, "wall_s": round(wall, 2),
        "errors": errors, **checks,
        "submit_latency": percentiles([s for s in submit_s if s is not None]),
        "end_to_end_latency_client": percentiles([s for s in e2e_s if s is not None]),
        "queue_wait_server": percentiles([r["started_at"] - r["created_at"] for r in rows]),
        "end_to_end_latency_server": percentiles([r["completed_at"] - r["created_at"] for r in rows]),
        "throughput_videos_per_s": round(len(rows) / wall, 2),
    }


def check_exactly_once(data: Path, ids: list[str | None], clients: int) -> dict:
    """Every client got its own video, completed once, with its own prompt in the record."""
    db = sqlite3.connect(data / "openreel.db")
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT id, status, attempts, created_at, started_at, completed_at, record "
                                        "FROM jobs")]
    db.close()
    by_id = {r["id"]: r for r in rows}
    folders = [p.name for p in (data / "videos").iterdir()]
    prompts_ok = all(
        json.loads(by_id[vid]["record"])["settings"]["prompt"] == f"client {i}: a red ball bounces"
        for i, vid in enumerate(ids) if vid in by_id and by_id[vid]["record"])
    return {
        "all_completed": len(rows) == clients and all(r["status"] == "completed" for r in rows),
        "distinct_ids": len(set(i for i in ids if i)), "jobs_in_db": len(rows),
        "claims_per_job": sorted({r["attempts"] for r in rows}),  # [1]: none ran twice
        "none_duplicated": len(set(ids)) == clients and all(r["attempts"] == 1 for r in rows)
        and sorted(folders) == sorted(by_id) and prompts_ok,
        "rows": rows,
    }


def machine() -> dict:
    from openreel.record import _cpu_name, cpu_count

    return {"cpu": _cpu_name(), "cores": cpu_count(), "python": platform.python_version(), "openreel": __version__,
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=300, help="sequential requests per endpoint (overhead)")
    ap.add_argument("--clients", type=int, default=100, help="concurrent submissions")
    ap.add_argument("--workers", type=int, default=2, help="fake workers for the concurrent run")
    ap.add_argument("--fake-step-s", type=float, default=0.01, help="fake seconds per step (10 steps a video)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "serve.json")
    args = ap.parse_args()
    results = {"benchmark": "serve", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "backend": "fake (synthetic frames, real H.264 encode, real queue and files)"}
    with tempfile.TemporaryDirectory(prefix="openreel-bench-") as tmp:
        print(f"API overhead: {args.requests} sequential requests per endpoint ...", flush=True)
        results["overhead"] = bench_overhead(Path(tmp), args.requests)
        for name, r in results["overhead"].items():
            print(f"  {name:<16} median {r['median_ms']:.2f} ms  p95 {r['p95_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms")
        print(f"{args.clients} concurrent submissions, {args.workers} fake workers ...", flush=True)
        c = results["concurrent"] = bench_concurrent(Path(tmp), args.clients, args.workers, args.fake_step_s)
        print(f"  all completed: {c['all_completed']}  none duplicated: {c['none_duplicated']}  "
              f"claims per job: {c['claims_per_job']}  errors: {len(c['errors'])}  wall {c['wall_s']} s")
        for name in ("submit_latency", "end_to_end_latency_client", "end_to_end_latency_server"):
            r = c[name]
            print(f"  {name:<26} p50 {r['p50_ms']:.0f} ms  p95 {r['p95_ms']:.0f} ms  p99 {r['p99_ms']:.0f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    if not (c["all_completed"] and c["none_duplicated"] and not c["errors"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
