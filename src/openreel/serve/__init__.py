"""Serving: an OpenAI-style `/v1/videos` HTTP API in front of a durable job queue.

    openreel keys create --name alice
    openreel serve --host 127.0.0.1 --port 8000 --workers 1

The API process (`app.py`) validates requests and queues jobs; it never loads a model. Generation
runs in separate worker processes (`worker.py`, supervised by `pool.py`) that claim jobs from the
queue (`queue.py`, SQLite in WAL mode by default), hold a lease while they work, and publish files
atomically under the data directory (`storage.py`). A model sits behind the `VideoBackend` seam
(`backends.py`), so tests and benchmarks can use a fast fake.

Every module here is cheap to import; FastAPI, uvicorn and torch load inside the functions that
need them.
"""
